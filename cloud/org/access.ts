import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { memberNotFound } from '../ledger/members.ts';
import type { Actor } from '../ledger/types.ts';
import { memberIdOf } from '../ledger/validate.ts';
import type { OperatorPrincipal, OperatorScope, Role } from './principal.ts';
import { getStore, storeNotFound, type Store } from './structure.ts';

/**
 * Guards for route handlers. The auth plugin (auth.ts) has already refused requests without a valid token;
 * these decide whether this operator may do this to that store or member. Scope rule: HQ reaches every store,
 * a region reaches its own stores, a store only itself. A refusal is a LedgerError: 401 UNAUTHENTICATED,
 * 403 FORBIDDEN (cloud/http/errors.ts).
 *
 * Members without a home store (registered before stores existed) belong to no region or store: only
 * HQ-scoped operators reach them.
 */

function forbidden(message: string): LedgerError {
  return new LedgerError('FORBIDDEN', message);
}

/** The signed-in operator; a route reached without one is a wiring mistake, refused as unauthenticated. */
export function principalOf(request: FastifyRequest): OperatorPrincipal {
  if (!request.operator) throw new LedgerError('UNAUTHENTICATED', 'Sign in first: send your operator token as "Authorization: Bearer <token>".');
  return request.operator;
}

export function requireRole(request: FastifyRequest, roles: readonly Role[]): OperatorPrincipal {
  const principal = principalOf(request);
  if (!roles.includes(principal.role)) {
    throw forbidden(`This needs the role ${roles.join(' or ')}; you are signed in as ${principal.role}.`);
  }
  return principal;
}

/** Every change made through the REST API is attributed to the operator who made it. */
export function operatorActor(request: FastifyRequest): Actor {
  return { type: 'operator', id: principalOf(request).operatorId };
}

/** Whether a scope reaches a store (pure). */
export function scopeCoversStore(scope: OperatorScope, store: Pick<Store, 'storeId' | 'regionId'>): boolean {
  if (scope.level === 'hq') return true;
  return scope.level === 'region' ? store.regionId === scope.id : store.storeId === scope.id;
}

/** Whether `outer` reaches everything `inner` does; `innerRegionId` is the region of a store scope. */
export function scopeCoversScope(outer: OperatorScope, inner: OperatorScope, innerRegionId?: string): boolean {
  if (outer.level === 'hq') return true;
  if (inner.level === 'hq') return false;
  if (outer.level === 'region') return inner.level === 'region' ? inner.id === outer.id : innerRegionId === outer.id;
  return inner.level === 'store' && inner.id === outer.id;
}

function describeScope(scope: OperatorScope): string {
  return scope.level === 'hq' ? 'headquarters' : `${scope.level} "${scope.id}"`;
}

/** The store, when it exists and the operator's scope reaches it: 404 STORE_NOT_FOUND, else 403 FORBIDDEN. */
export async function assertStoreInScope(db: Queryable, request: FastifyRequest, storeId: string): Promise<Store> {
  const principal = principalOf(request);
  const store = await getStore(db, storeId);
  if (!store) throw storeNotFound(storeId);
  if (!scopeCoversStore(principal.scope, store)) {
    throw forbidden(`Store "${storeId}" is outside your scope (${describeScope(principal.scope)}).`);
  }
  return store;
}

/** The member exists (404 MEMBER_NOT_FOUND) and their home store is in the operator's scope (403 FORBIDDEN). */
export async function assertMemberInScope(db: Queryable, request: FastifyRequest, memberId: string): Promise<void> {
  const principal = principalOf(request);
  const id = memberIdOf(memberId);
  const { rows } = await db.query<{ home_store_id: string | null; region_id: string | null }>(
    'SELECT m.home_store_id, s.region_id FROM members m LEFT JOIN stores s ON s.id = m.home_store_id WHERE m.id = $1',
    [id],
  );
  const member = rows[0];
  if (!member) throw memberNotFound(id);
  if (principal.scope.level === 'hq') return;
  if (member.home_store_id === null) throw forbidden('This member has no home store yet; only headquarters can reach them.');
  if (!scopeCoversStore(principal.scope, { storeId: member.home_store_id, regionId: member.region_id! })) {
    throw forbidden(`This member belongs to a store outside your scope (${describeScope(principal.scope)}).`);
  }
}

/** The operator's scope reaches every store of `target` (an operator scope they want to create or change). */
export async function assertScopeInScope(db: Queryable, request: FastifyRequest, target: OperatorScope): Promise<void> {
  const principal = principalOf(request);
  if (target.level === 'store') {
    await assertStoreInScope(db, request, target.id);
    return;
  }
  if (!scopeCoversScope(principal.scope, target)) {
    throw forbidden(`${target.level === 'hq' ? 'Headquarters' : `Region "${target.id}"`} is outside your scope (${describeScope(principal.scope)}).`);
  }
}

/**
 * The store a request acts at: the one named in the body, else the operator's own store. It must be in the
 * operator's scope. Undefined when neither names one (an HQ or region operator acting for no store).
 */
export async function actingStore(db: Queryable, request: FastifyRequest, requested: string | undefined): Promise<Store | undefined> {
  const { scope } = principalOf(request);
  const storeId = requested ?? (scope.level === 'store' ? scope.id : undefined);
  return storeId === undefined ? undefined : assertStoreInScope(db, request, storeId);
}

/** The id of actingStore, for requests that only record where they happened. */
export async function actingStoreOf(db: Queryable, request: FastifyRequest, requested: string | undefined): Promise<string | undefined> {
  return (await actingStore(db, request, requested))?.storeId;
}
