import { Type } from '@sinclair/typebox';
import type { Database, Queryable } from '../db/database.ts';
import { kernelErrors, type HubError } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import { orgErrors } from './errors.ts';
import type { Actor } from '../kernel/actor.ts';
import { textOf } from '../kernel/input.ts';
import { recordAudit } from './audit.ts';
import type { OperatorScope } from '../kernel/principal.ts';

/** Regions and stores under the one headquarters. Ids are short codes chosen by HQ (see 006_org.sql). */

export const STORE_KINDS = ['direct', 'franchise'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
export const ORG_CODE_PATTERN = '^[a-z0-9][a-z0-9-]{0,39}$';
const ORG_CODE = new RegExp(ORG_CODE_PATTERN);

/** A region or store code in a REST schema. */
export const orgCode = (description: string) => Type.String({ pattern: ORG_CODE_PATTERN, description });

export interface Region {
  regionId: string;
  name: string;
}

export interface Store {
  storeId: string;
  regionId: string;
  name: string;
  kind: StoreKind;
  /** IANA time zone of the store's local calendar. */
  timeZone: string;
}

interface StoreRow {
  id: string;
  region_id: string;
  name: string;
  kind: StoreKind;
  time_zone: string;
}

const toStore = (row: StoreRow): Store => ({ storeId: row.id, regionId: row.region_id, name: row.name, kind: row.kind, timeZone: row.time_zone });

function codeOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ORG_CODE.test(value)) {
    throw invalid(`${field} 须为 1 至 40 个小写字母、数字或 '-'，以字母或数字开头`, `${field} must be 1 to 40 lower-case letters, digits or '-', starting with a letter or digit`);
  }
  return value;
}

export function timeZoneOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) throw invalid('timeZone 须为 IANA 时区，例如 Asia/Shanghai', 'timeZone must be an IANA time zone such as Asia/Shanghai');
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
  } catch {
    throw invalid(`timeZone「${value}」不是 IANA 时区（例如 Asia/Shanghai）`, `timeZone "${value}" is not an IANA time zone (e.g. Asia/Shanghai)`);
  }
  return value;
}

export function storeNotFound(storeId: string): HubError {
  return orgErrors.STORE_NOT_FOUND({ zh: `没有编号为「${storeId}」的门店`, en: `No store has the id "${storeId}"` });
}

export function regionNotFound(regionId: string): HubError {
  return orgErrors.REGION_NOT_FOUND({ zh: `没有编号为「${regionId}」的区域`, en: `No region has the id "${regionId}"` });
}

/** Unique violations become a clear CONFLICT instead of a 500. */
async function insertOnce(tx: Queryable, sql: string, params: unknown[], what: { zh: string; en: string }): Promise<void> {
  const { rows } = await tx.query(`${sql} ON CONFLICT (id) DO NOTHING RETURNING id`, params);
  if (rows.length === 0) throw kernelErrors.CONFLICT({ zh: `${what.zh}已存在`, en: `${what.en} already exists` });
}

export async function createRegion(db: Database, input: { regionId: string; name: string }, actor: Actor, reason: string): Promise<Region> {
  const region = { regionId: codeOf(input.regionId, 'regionId'), name: textOf(input.name, 'name', 64) };
  const why = textOf(reason, 'reason', 200);
  return db.transaction(async (tx) => {
    await insertOnce(tx, 'INSERT INTO regions (id, name) VALUES ($1, $2)', [region.regionId, region.name], { zh: `区域「${region.regionId}」`, en: `Region "${region.regionId}"` });
    await recordAudit(tx, { actor, action: 'region_created', subjectId: region.regionId, reason: why, detail: { name: region.name } });
    return region;
  });
}

export interface CreateStoreInput {
  storeId: string;
  regionId: string;
  name: string;
  kind: StoreKind;
  timeZone?: string;
}

export async function createStore(db: Database, input: CreateStoreInput, actor: Actor, reason: string): Promise<Store> {
  if (!STORE_KINDS.includes(input.kind)) throw invalid(`kind 须为 ${STORE_KINDS.join('、')} 之一`, `kind must be one of ${STORE_KINDS.join(', ')}`);
  const store: Store = {
    storeId: codeOf(input.storeId, 'storeId'),
    regionId: codeOf(input.regionId, 'regionId'),
    name: textOf(input.name, 'name', 64),
    kind: input.kind,
    timeZone: timeZoneOf(input.timeZone ?? DEFAULT_TIME_ZONE),
  };
  const why = textOf(reason, 'reason', 200);
  return db.transaction(async (tx) => {
    const region = await tx.query('SELECT 1 FROM regions WHERE id = $1', [store.regionId]);
    if (region.rows.length === 0) throw regionNotFound(store.regionId);
    await insertOnce(
      tx,
      'INSERT INTO stores (id, region_id, name, kind, time_zone) VALUES ($1, $2, $3, $4, $5)',
      [store.storeId, store.regionId, store.name, store.kind, store.timeZone],
      { zh: `门店「${store.storeId}」`, en: `Store "${store.storeId}"` },
    );
    await recordAudit(tx, { actor, action: 'store_created', subjectId: store.storeId, reason: why, detail: { ...store } });
    return store;
  });
}

export async function getStore(q: Queryable, storeId: string): Promise<Store | undefined> {
  const { rows } = await q.query<StoreRow>('SELECT id, region_id, name, kind, time_zone FROM stores WHERE id = $1', [storeId]);
  return rows[0] && toStore(rows[0]);
}

/**
 * A scalar subquery for another module's one-statement read (a kiosk's card lookup): the time zone of the store
 * whose id is the SQL expression `storeId`; NULL when there is no such store.
 */
export function storeTimeZoneSql(storeId: string): string {
  return `SELECT time_zone FROM stores WHERE id = ${storeId}`;
}

/** Every time zone a store keeps its calendar in. */
export async function storeTimeZones(q: Queryable): Promise<string[]> {
  const { rows } = await q.query<{ time_zone: string }>('SELECT DISTINCT time_zone FROM stores ORDER BY time_zone');
  return rows.map((row) => row.time_zone);
}

/** SQL condition (on a `stores` row aliased `s`) and its parameter for the stores a scope covers. */
export function storesInScopeSql(scope: OperatorScope, param: number): { sql: string; params: unknown[] } {
  if (scope.level === 'hq') return { sql: 'true', params: [] };
  return { sql: `s.${scope.level === 'region' ? 'region_id' : 'id'} = $${param}`, params: [scope.id] };
}

export async function listStores(q: Queryable, scope: OperatorScope): Promise<Store[]> {
  const where = storesInScopeSql(scope, 1);
  const { rows } = await q.query<StoreRow>(`SELECT s.id, s.region_id, s.name, s.kind, s.time_zone FROM stores s WHERE ${where.sql} ORDER BY s.id`, where.params);
  return rows.map(toStore);
}

const REGIONS_IN_SCOPE = {
  hq: 'true',
  region: 'r.id = $1',
  store: 'r.id = (SELECT region_id FROM stores WHERE id = $1)',
} as const;

/** Regions a scope reaches: all for HQ, its own for a region, its store's region for a store. */
export async function listRegions(q: Queryable, scope: OperatorScope): Promise<Region[]> {
  const params = scope.level === 'hq' ? [] : [scope.id];
  const { rows } = await q.query<{ id: string; name: string }>(
    `SELECT r.id, r.name FROM regions r WHERE ${REGIONS_IN_SCOPE[scope.level]} ORDER BY r.id`,
    params,
  );
  return rows.map((row) => ({ regionId: row.id, name: row.name }));
}
