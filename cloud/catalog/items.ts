import { isUuid, newId } from '../../shared/ids.ts';
import { RuleSetError } from '../../shared/rules/errors.ts';
import {
  type CatalogItemKind,
  type CatalogItemRules,
  type LimitPeriod,
  type MemberLimit,
  type RedemptionPrice,
  validateCatalogItem,
} from '../../shared/rules/redemption.ts';
import type { Database, Queryable } from '../db/database.ts';
import { HubError } from '../kernel/errors.ts';
import { LedgerError } from '../ledger/index.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, textOf } from '../kernel/input.ts';
import { getTemplate } from '../coupons/index.ts';
import { getStore, storeNotFound } from '../org/index.ts';
import type { CatalogRulesSource } from './rules.ts';

/**
 * Catalog items and their stock, changed by managers and admins. Every change is written together with an
 * audit row (actor, reason, the item before and after) in one database transaction.
 */

/** The part of an item an operator defines (everything but stock). */
export interface CatalogItemDefinition {
  kind: CatalogItemKind;
  nameZh: string;
  nameEn: string;
  price: RedemptionPrice;
  allowedTiers?: string[];
  memberLimit?: MemberLimit;
  validFrom?: string;
  validUntil?: string;
  voucherValidDays: number;
  active?: boolean;
  /** Kind 'coupon': the active coupon template a redemption issues (required for a new or edited coupon item). */
  couponTemplateId?: string;
}

export interface CatalogItem extends CatalogItemRules {
  /** Units left chain-wide; null = unlimited. */
  stock: number | null;
  /** Held per store: redeemable only at stores listed in storeStock. */
  perStoreStock: boolean;
  storeStock: { storeId: string; stock: number }[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A largest stock that is plainly a typo rather than a warehouse. */
export const MAX_STOCK = 1_000_000_000;

export interface ItemRow {
  id: string;
  kind: CatalogItemKind;
  name_zh: string;
  name_en: string;
  price_points: number | null;
  price_value_fen: number | null;
  cash_fen: number;
  allowed_tiers: string[] | null;
  limit_count: number | null;
  limit_period: LimitPeriod | null;
  valid_from: Date | null;
  valid_until: Date | null;
  voucher_valid_days: number;
  active: boolean;
  coupon_template_id: string | null;
  stock: number | null;
  per_store_stock: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The pure rules of an item as stored (what shared/rules/redemption.ts checks). */
export function rulesOf(row: ItemRow): CatalogItemRules {
  const cash = row.cash_fen > 0 ? { cashFen: row.cash_fen } : {};
  return {
    id: row.id,
    kind: row.kind,
    nameZh: row.name_zh,
    nameEn: row.name_en,
    price: row.price_points !== null ? { kind: 'points', points: row.price_points, ...cash } : { kind: 'value', valueFen: row.price_value_fen!, ...cash },
    ...(row.allowed_tiers ? { allowedTiers: row.allowed_tiers } : {}),
    ...(row.limit_count !== null ? { memberLimit: { count: row.limit_count, period: row.limit_period! } } : {}),
    ...(row.valid_from ? { validFrom: row.valid_from.toISOString() } : {}),
    ...(row.valid_until ? { validUntil: row.valid_until.toISOString() } : {}),
    voucherValidDays: row.voucher_valid_days,
    active: row.active,
    ...(row.coupon_template_id ? { couponTemplateId: row.coupon_template_id } : {}),
  };
}

export function itemNotFound(itemId: unknown): LedgerError {
  return new LedgerError('NOT_FOUND', `No catalog item has the id "${String(itemId)}".`);
}

export function itemIdOf(value: unknown): string {
  if (!isUuid(value)) throw itemNotFound(value);
  return value;
}

/** The item row, locked for this transaction when `forUpdate` (stock changes and redemptions of it queue). */
export async function readItemRow(q: Queryable, itemId: string, { forUpdate = false } = {}): Promise<ItemRow> {
  const { rows } = await q.query<ItemRow>(`SELECT * FROM catalog_items WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [itemId]);
  if (!rows[0]) throw itemNotFound(itemId);
  return rows[0];
}

async function toItem(q: Queryable, row: ItemRow): Promise<CatalogItem> {
  const { rows } = await q.query<{ store_id: string; stock: number }>(
    'SELECT store_id, stock FROM catalog_store_stock WHERE item_id = $1 ORDER BY store_id',
    [row.id],
  );
  return {
    ...rulesOf(row),
    stock: row.stock,
    perStoreStock: row.per_store_stock,
    storeStock: rows.map((r) => ({ storeId: r.store_id, stock: r.stock })),
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Validates a definition with the pure rules (every problem in one message) before any SQL runs. */
async function checkedDefinition(db: Queryable, id: string, input: CatalogItemDefinition, rules: CatalogRulesSource): Promise<CatalogItemRules> {
  const item: CatalogItemRules = {
    id,
    kind: input.kind,
    nameZh: typeof input.nameZh === 'string' ? input.nameZh.trim() : input.nameZh,
    nameEn: typeof input.nameEn === 'string' ? input.nameEn.trim() : input.nameEn,
    price: input.price,
    ...(input.allowedTiers && input.allowedTiers.length > 0 ? { allowedTiers: [...new Set(input.allowedTiers)] } : {}),
    ...(input.memberLimit ? { memberLimit: input.memberLimit } : {}),
    ...(input.validFrom !== undefined ? { validFrom: input.validFrom } : {}),
    ...(input.validUntil !== undefined ? { validUntil: input.validUntil } : {}),
    voucherValidDays: input.voucherValidDays,
    active: input.active ?? true,
    ...(input.couponTemplateId !== undefined ? { couponTemplateId: input.couponTemplateId } : {}),
  };
  try {
    validateCatalogItem(item, (await rules()).tiers);
  } catch (error) {
    if (error instanceof RuleSetError) throw new LedgerError('INVALID_INPUT', `Invalid catalog item: ${error.problems.join('; ')}.`);
    throw error;
  }
  if (item.kind === 'coupon') await assertIssuableTemplate(db, item.couponTemplateId);
  return item;
}

/**
 * A coupon item must name a template that exists, is active and has not ended: otherwise every redemption of it
 * would be refused. (Redemption checks again: a template stopped later makes the item unavailable.)
 */
async function assertIssuableTemplate(q: Queryable, templateId: string | undefined): Promise<void> {
  const invalid = (why: string) => new LedgerError('INVALID_INPUT', `Invalid catalog item: ${why}.`);
  if (templateId === undefined) throw invalid('an item of kind coupon must name the coupon template it issues (couponTemplateId)');
  const template = await getTemplate(q, templateId).catch((error: unknown) => {
    if (error instanceof HubError && error.code === 'COUPON_NOT_FOUND') throw invalid(`no coupon template has the id ${templateId}`);
    throw error;
  });
  if (!template.active) throw invalid(`coupon template ${templateId} ("${template.nameEn}") is not active; activate it or choose another`);
  const { validUntil } = template.conditions;
  if (validUntil !== undefined && Date.parse(validUntil) <= Date.now()) {
    throw invalid(`coupon template ${templateId} ("${template.nameEn}") ended on ${validUntil}; no coupon can be issued from it`);
  }
}

function stockOf(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_STOCK) {
    throw new LedgerError('INVALID_INPUT', `stock must be null (unlimited) or a whole number from 0 to ${MAX_STOCK}.`);
  }
  return value;
}

/** Column values of a definition, in the order of DEFINITION_COLUMNS. */
function definitionValues(item: CatalogItemRules): unknown[] {
  const { price } = item;
  return [
    item.kind,
    item.nameZh,
    item.nameEn,
    price.kind === 'points' ? price.points : null,
    price.kind === 'value' ? price.valueFen : null,
    price.cashFen ?? 0,
    item.allowedTiers ?? null,
    item.memberLimit?.count ?? null,
    item.memberLimit?.period ?? null,
    item.validFrom ?? null,
    item.validUntil ?? null,
    item.voucherValidDays,
    item.active,
    item.couponTemplateId ?? null,
  ];
}
const DEFINITION_COLUMNS = [
  'kind', 'name_zh', 'name_en', 'price_points', 'price_value_fen', 'cash_fen', 'allowed_tiers',
  'limit_count', 'limit_period', 'valid_from', 'valid_until', 'voucher_valid_days', 'active',
  'coupon_template_id',
];

interface AuditInput {
  itemId: string;
  action: 'created' | 'updated' | 'stock_adjusted';
  storeId?: string;
  actor: Actor;
  reason: string;
  before: CatalogItem | null;
  after: CatalogItem;
}

async function audit(tx: Queryable, entry: AuditInput): Promise<void> {
  await tx.query(
    `INSERT INTO catalog_item_audit (item_id, action, store_id, actor_type, actor_id, reason, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`,
    [
      entry.itemId,
      entry.action,
      entry.storeId ?? null,
      entry.actor.type,
      entry.actor.id,
      entry.reason,
      entry.before ? JSON.stringify(entry.before) : null,
      JSON.stringify(entry.after),
    ],
  );
}

export interface CreateItemInput extends CatalogItemDefinition {
  /** Units chain-wide; null = unlimited. */
  stock: number | null;
  perStoreStock?: boolean;
  actor: Actor;
  reason: string;
}

export async function createItem(db: Database, rules: CatalogRulesSource, input: CreateItemInput): Promise<CatalogItem> {
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const item = await checkedDefinition(db, newId(), input, rules);
  const stock = stockOf(input.stock);
  const perStoreStock = input.perStoreStock ?? false;
  if (typeof perStoreStock !== 'boolean') throw new LedgerError('INVALID_INPUT', 'perStoreStock must be true or false.');
  return db.transaction(async (tx) => {
    const placeholders = DEFINITION_COLUMNS.map((_, i) => `$${i + 4}`).join(', ');
    await tx.query(
      `INSERT INTO catalog_items (id, stock, per_store_stock, ${DEFINITION_COLUMNS.join(', ')}) VALUES ($1, $2, $3, ${placeholders})`,
      [item.id, stock, perStoreStock, ...definitionValues(item)],
    );
    const created = await toItem(tx, await readItemRow(tx, item.id));
    await audit(tx, { itemId: item.id, action: 'created', actor, reason, before: null, after: created });
    return created;
  });
}

export interface UpdateItemInput extends CatalogItemDefinition {
  itemId: string;
  /** The version the operator edited; a change made meanwhile by someone else refuses this one (CONFLICT). */
  expectedVersion: number;
  actor: Actor;
  reason: string;
}

/** Replaces an item's definition (not its stock: see adjustStock). Bumps the version. */
export async function updateItem(db: Database, rules: CatalogRulesSource, input: UpdateItemInput): Promise<CatalogItem> {
  const itemId = itemIdOf(input.itemId);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const item = await checkedDefinition(db, itemId, input, rules);
  return db.transaction(async (tx) => {
    const before = await toItem(tx, await readItemRow(tx, itemId, { forUpdate: true }));
    if (before.version !== input.expectedVersion) {
      throw new LedgerError(
        'CONFLICT',
        `The item was changed by someone else (now version ${before.version}, you edited version ${String(input.expectedVersion)}). Reload it and try again.`,
      );
    }
    const assignments = DEFINITION_COLUMNS.map((column, i) => `${column} = $${i + 2}`).join(', ');
    await tx.query(`UPDATE catalog_items SET ${assignments}, version = version + 1, updated_at = now() WHERE id = $1`, [
      itemId,
      ...definitionValues(item),
    ]);
    const after = await toItem(tx, await readItemRow(tx, itemId));
    await audit(tx, { itemId, action: 'updated', actor, reason, before, after });
    return after;
  });
}

export interface AdjustStockInput {
  itemId: string;
  /** Given for an item held per store: that store's stock changes; else the chain-wide stock. */
  storeId?: string;
  /** Units added (restock) or removed (damaged, counted short); the stock may not go below zero. */
  delta: number;
  actor: Actor;
  reason: string;
}

/**
 * Changes stock by a delta in one guarded UPDATE, so it composes with concurrent redemptions instead of
 * overwriting them (a "set to 20" would undo the units redeemed between reading and writing).
 */
export async function adjustStock(db: Database, input: AdjustStockInput): Promise<CatalogItem> {
  const itemId = itemIdOf(input.itemId);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const { delta } = input;
  if (typeof delta !== 'number' || !Number.isSafeInteger(delta) || delta === 0 || Math.abs(delta) > MAX_STOCK) {
    throw new LedgerError('INVALID_INPUT', `delta must be a whole number from -${MAX_STOCK} to ${MAX_STOCK}, not 0.`);
  }
  return db.transaction(async (tx) => {
    const row = await readItemRow(tx, itemId, { forUpdate: true });
    const before = await toItem(tx, row);
    if (input.storeId === undefined) {
      if (row.per_store_stock) throw new LedgerError('INVALID_INPUT', 'This item is held per store: name the store whose stock changes.');
      if (row.stock === null) throw new LedgerError('INVALID_INPUT', 'This item has unlimited stock; there is nothing to adjust.');
      const { rows } = await tx.query('UPDATE catalog_items SET stock = stock + $2 WHERE id = $1 AND stock + $2 >= 0 RETURNING stock', [itemId, delta]);
      if (rows.length === 0) throw notEnoughStock(row.stock, delta);
    } else {
      if (!row.per_store_stock) throw new LedgerError('INVALID_INPUT', 'This item is held chain-wide: adjust it without a store.');
      if (!(await getStore(tx, input.storeId))) throw storeNotFound(input.storeId);
      // Every stock change and every redemption of this item holds the item lock taken above, so this read is current.
      const current = before.storeStock.find((s) => s.storeId === input.storeId)?.stock ?? 0;
      if (current + delta < 0) throw notEnoughStock(current, delta);
      await tx.query(
        `INSERT INTO catalog_store_stock (item_id, store_id, stock) VALUES ($1, $2, $3)
         ON CONFLICT (item_id, store_id) DO UPDATE SET stock = catalog_store_stock.stock + $3, updated_at = now()`,
        [itemId, input.storeId, delta],
      );
    }
    // Not a new version: redemptions priced a moment ago stay valid, and an open edit form does not conflict.
    await tx.query('UPDATE catalog_items SET updated_at = now() WHERE id = $1', [itemId]);
    const after = await toItem(tx, await readItemRow(tx, itemId));
    await audit(tx, { itemId, action: 'stock_adjusted', ...(input.storeId ? { storeId: input.storeId } : {}), actor, reason, before, after });
    return after;
  });
}

/**
 * Puts units back: chain-wide stock when the item counts it, and the store's stock for a per-store redemption
 * (a voucher or coupon refunded, a voucher expired).
 */
export async function returnToStock(tx: Queryable, itemId: string, storeId: string | null, units: number): Promise<void> {
  await tx.query('UPDATE catalog_items SET stock = stock + $2 WHERE id = $1 AND stock IS NOT NULL', [itemId, units]);
  if (storeId !== null) {
    await tx.query('UPDATE catalog_store_stock SET stock = stock + $3, updated_at = now() WHERE item_id = $1 AND store_id = $2', [
      itemId,
      storeId,
      units,
    ]);
  }
}

function notEnoughStock(current: number, delta: number): LedgerError {
  return new LedgerError('INVALID_INPUT', `Stock is ${current}; removing ${-delta} would take it below zero.`);
}

export async function getItem(db: Database, itemId: unknown): Promise<CatalogItem> {
  return toItem(db, await readItemRow(db, itemIdOf(itemId)));
}

/** Items, newest first; `activeOnly` for what members may browse. */
export async function listItems(db: Database, { activeOnly = false }: { activeOnly?: boolean } = {}): Promise<CatalogItem[]> {
  const { rows } = await db.query<ItemRow>(
    `SELECT * FROM catalog_items ${activeOnly ? 'WHERE active' : ''} ORDER BY created_at DESC, id DESC LIMIT 500`,
  );
  return Promise.all(rows.map((row) => toItem(db, row)));
}

export interface ItemAuditEntry {
  action: AuditInput['action'];
  storeId?: string;
  actor: Actor;
  reason: string;
  at: string;
}

/** Who changed an item, when and why, oldest first. */
export async function itemAudit(db: Database, itemId: unknown): Promise<ItemAuditEntry[]> {
  const id = itemIdOf(itemId);
  await readItemRow(db, id);
  const { rows } = await db.query<{ action: AuditInput['action']; store_id: string | null; actor_type: Actor['type']; actor_id: string; reason: string; created_at: Date }>(
    'SELECT action, store_id, actor_type, actor_id, reason, created_at FROM catalog_item_audit WHERE item_id = $1 ORDER BY id',
    [id],
  );
  return rows.map((row) => ({
    action: row.action,
    ...(row.store_id ? { storeId: row.store_id } : {}),
    actor: { type: row.actor_type, id: row.actor_id },
    reason: row.reason,
    at: row.created_at.toISOString(),
  }));
}
