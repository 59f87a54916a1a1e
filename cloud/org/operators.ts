import { newId } from '../../shared/ids.ts';
import type { Database, Queryable } from '../db/database.ts';
import { kernelErrors, type HubError } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import { orgErrors } from './errors.ts';
import type { Actor } from '../kernel/actor.ts';
import { textOf } from '../kernel/input.ts';
import { recordAudit } from './audit.ts';
import { ROLES, SCOPE_LEVELS, type OperatorPrincipal, type OperatorScope, type Role } from '../kernel/principal.ts';
import { regionNotFound, storeNotFound, storesInScopeSql } from './structure.ts';
import { hashToken, isStrongBootstrapToken, isWellFormedToken, newOperatorToken, WEAK_BOOTSTRAP_TOKEN } from './tokens.ts';

export interface Operator extends OperatorPrincipal {
  active: boolean;
  createdAt: string;
}

interface OperatorRow {
  id: string;
  name: string;
  role: Role;
  scope_level: OperatorScope['level'];
  region_id: string | null;
  store_id: string | null;
  active: boolean;
  created_at: Date;
}

const COLUMNS = 'o.id, o.name, o.role, o.scope_level, o.region_id, o.store_id, o.active, o.created_at';

function toOperator(row: OperatorRow): Operator {
  const id = row.scope_level === 'hq' ? 'hq' : row.scope_level === 'region' ? row.region_id! : row.store_id!;
  return {
    operatorId: row.id,
    name: row.name,
    role: row.role,
    scope: { level: row.scope_level, id },
    active: row.active,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

export function principalOfOperator({ operatorId, name, role, scope }: Operator): OperatorPrincipal {
  return { operatorId, name, role, scope };
}

/** The operator holding this bearer token (active or not), or undefined. Looked up by hash: the token is never stored. */
export async function operatorByToken(q: Queryable, token: string): Promise<Operator | undefined> {
  if (!isWellFormedToken(token)) return undefined;
  const { rows } = await q.query<OperatorRow>(`SELECT ${COLUMNS} FROM operators o WHERE o.token_hash = $1`, [hashToken(token)]);
  return rows[0] && toOperator(rows[0]);
}

export function operatorNotFound(operatorId: string): HubError {
  return orgErrors.OPERATOR_NOT_FOUND({ zh: `没有编号为「${operatorId}」的操作员`, en: `No operator has the id "${operatorId}"` });
}

export async function getOperator(q: Queryable, operatorId: string): Promise<Operator> {
  const { rows } = await q.query<OperatorRow>(`SELECT ${COLUMNS} FROM operators o WHERE o.id::text = $1`, [operatorId]);
  if (!rows[0]) throw operatorNotFound(operatorId);
  return toOperator(rows[0]);
}

/** Operators whose scope lies inside `scope` (a region's list includes its stores' operators), oldest first. */
export async function listOperators(q: Queryable, scope: OperatorScope): Promise<Operator[]> {
  const stores = storesInScopeSql(scope, 1);
  const where =
    scope.level === 'hq'
      ? 'true'
      : scope.level === 'region'
        ? `(o.region_id = $1 OR o.store_id IN (SELECT s.id FROM stores s WHERE ${stores.sql}))`
        : 'o.store_id = $1';
  const { rows } = await q.query<OperatorRow>(`SELECT ${COLUMNS} FROM operators o WHERE ${where} ORDER BY o.created_at, o.id`, stores.params);
  return rows.map(toOperator);
}

export interface CreateOperatorInput {
  name: string;
  role: Role;
  scope: OperatorScope;
}

/** Checks the scope names an existing region or store; returns the columns that store it. */
async function scopeColumns(q: Queryable, scope: OperatorScope): Promise<{ regionId: string | null; storeId: string | null }> {
  if (!SCOPE_LEVELS.includes(scope?.level)) throw invalid(`scope.level 须为 ${SCOPE_LEVELS.join('、')} 之一`, `scope.level must be one of ${SCOPE_LEVELS.join(', ')}`);
  if (scope.level === 'hq') {
    if (scope.id !== 'hq') throw invalid('总部范围的编号为 "hq"', 'An HQ scope has the id "hq"');
    return { regionId: null, storeId: null };
  }
  const table = scope.level === 'region' ? 'regions' : 'stores';
  const { rows } = await q.query(`SELECT 1 FROM ${table} WHERE id = $1`, [scope.id]);
  if (rows.length === 0) {
    throw scope.level === 'store' ? storeNotFound(scope.id) : regionNotFound(scope.id);
  }
  return scope.level === 'region' ? { regionId: scope.id, storeId: null } : { regionId: null, storeId: scope.id };
}

/**
 * A new active operator and its bearer token. The token is returned here once and never again: only its
 * hash is stored. Whether `actor` may create this operator is the route's access declaration (cloud/kernel/access.ts).
 */
export async function createOperator(db: Database, input: CreateOperatorInput, actor: Actor, reason: string): Promise<{ operator: Operator; token: string }> {
  const name = textOf(input.name, 'name', 64);
  if (!ROLES.includes(input.role)) throw invalid(`role 须为 ${ROLES.join('、')} 之一`, `role must be one of ${ROLES.join(', ')}`);
  const why = textOf(reason, 'reason', 200);
  const token = newOperatorToken();
  const operatorId = newId();
  return db.transaction(async (tx) => {
    const { regionId, storeId } = await scopeColumns(tx, input.scope);
    const { rows } = await tx.query<OperatorRow>(
      `INSERT INTO operators AS o (id, name, role, scope_level, region_id, store_id, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING ${COLUMNS}`,
      [operatorId, name, input.role, input.scope.level, regionId, storeId, hashToken(token)],
    );
    const operator = toOperator(rows[0]!);
    await recordAudit(tx, { actor, action: 'operator_created', subjectId: operatorId, reason: why, detail: { name, role: input.role, scope: operator.scope } });
    return { operator, token };
  });
}

/** Deactivates an operator: their token stops working at once. Deactivating an inactive one is refused (409). */
export async function deactivateOperator(db: Database, operatorId: string, actor: Actor, reason: string): Promise<Operator> {
  const why = textOf(reason, 'reason', 200);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<OperatorRow>(
      `UPDATE operators o SET active = false, deactivated_at = now() WHERE o.id::text = $1 AND o.active RETURNING ${COLUMNS}`,
      [operatorId],
    );
    if (!rows[0]) {
      await getOperator(tx, operatorId); // unknown → 404; otherwise it exists and is already inactive
      throw kernelErrors.CONFLICT({ zh: '该操作员已停用', en: 'This operator is already deactivated' });
    }
    await recordAudit(tx, { actor, action: 'operator_deactivated', subjectId: operatorId, reason: why });
    return toOperator(rows[0]);
  });
}

const SYSTEM: Actor = { type: 'system', id: 'hub-bootstrap' };

/**
 * Makes `token` (from HUB_ADMIN_TOKEN) the bearer token of the one bootstrap HQ admin: created on first start,
 * re-keyed and re-activated when the token changes, untouched (and unaudited) when it is the same.
 */
export async function ensureBootstrapAdmin(db: Database, token: string): Promise<Operator> {
  if (!isStrongBootstrapToken(token)) throw invalid(WEAK_BOOTSTRAP_TOKEN.zh, WEAK_BOOTSTRAP_TOKEN.en);
  const hash = hashToken(token);
  return db.transaction(async (tx) => {
    // Hubs starting together against one PostgreSQL must not both insert the bootstrap admin.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('member-kiosk:bootstrap-admin'))`);
    const existing = await tx.query<OperatorRow & { token_hash: string }>(`SELECT ${COLUMNS}, o.token_hash FROM operators o WHERE o.bootstrap FOR UPDATE`);
    const current = existing.rows[0];
    if (current && current.token_hash === hash && current.active) return toOperator(current);
    const { rows } = current
      ? await tx.query<OperatorRow>(
          `UPDATE operators o SET token_hash = $2, active = true, deactivated_at = NULL WHERE o.id = $1 RETURNING ${COLUMNS}`,
          [current.id, hash],
        )
      : await tx.query<OperatorRow>(
          `INSERT INTO operators AS o (id, name, role, scope_level, token_hash, bootstrap) VALUES ($1, 'HQ admin (bootstrap)', 'admin', 'hq', $2, true)
           RETURNING ${COLUMNS}`,
          [newId(), hash],
        );
    const operator = toOperator(rows[0]!);
    await recordAudit(tx, {
      actor: SYSTEM,
      action: current ? 'bootstrap_admin_refreshed' : 'operator_created',
      subjectId: operator.operatorId,
      reason: 'HUB_ADMIN_TOKEN at hub start',
    });
    return operator;
  });
}
