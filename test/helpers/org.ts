import type { Database } from '../../cloud/db/database.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { createOperator } from '../../cloud/org/operators.ts';
import { ROLES, type OperatorScope, type Role } from '../../cloud/kernel/principal.ts';
import { createRegion, createStore, type Store } from '../../cloud/org/structure.ts';

/**
 * A small chain for tests: HQ; region "east" with a direct store (sh-xuhui) and a franchise (sh-jingan);
 * region "south" with a franchise (gz-tianhe); and one operator of every role at every scope.
 *
 *   const org = await seedOrg(db);
 *   app.inject({ ..., headers: bearer(org.tokens.xuhui.cashier) });
 */
export const STORES = {
  xuhui: { storeId: 'sh-xuhui', regionId: 'east', name: '徐汇店 Xuhui', kind: 'direct' },
  jingan: { storeId: 'sh-jingan', regionId: 'east', name: '静安店 Jing’an', kind: 'franchise' },
  tianhe: { storeId: 'gz-tianhe', regionId: 'south', name: '天河店 Tianhe', kind: 'franchise', timeZone: 'Asia/Shanghai' },
} as const satisfies Record<string, Omit<Store, 'timeZone'> & { timeZone?: string }>;

export type ScopeKey = 'hq' | 'east' | 'south' | keyof typeof STORES;

const SCOPES: Record<ScopeKey, OperatorScope> = {
  hq: { level: 'hq', id: 'hq' },
  east: { level: 'region', id: 'east' },
  south: { level: 'region', id: 'south' },
  xuhui: { level: 'store', id: STORES.xuhui.storeId },
  jingan: { level: 'store', id: STORES.jingan.storeId },
  tianhe: { level: 'store', id: STORES.tianhe.storeId },
};

export interface SeededOrg {
  stores: typeof STORES;
  /** Bearer token of the operator with this scope and role, e.g. tokens.east.manager. */
  tokens: Record<ScopeKey, Record<Role, string>>;
  /** Their operator ids, same keys. */
  operatorIds: Record<ScopeKey, Record<Role, string>>;
}

const SEEDER: Actor = { type: 'system', id: 'test-seed' };

export async function seedOrg(db: Database): Promise<SeededOrg> {
  await createRegion(db, { regionId: 'east', name: '华东 East' }, SEEDER, 'test chain');
  await createRegion(db, { regionId: 'south', name: '华南 South' }, SEEDER, 'test chain');
  for (const store of Object.values(STORES)) await createStore(db, store, SEEDER, 'test chain');
  const tokens = {} as SeededOrg['tokens'];
  const operatorIds = {} as SeededOrg['operatorIds'];
  for (const [key, scope] of Object.entries(SCOPES) as Array<[ScopeKey, OperatorScope]>) {
    tokens[key] = {} as Record<Role, string>;
    operatorIds[key] = {} as Record<Role, string>;
    for (const role of ROLES) {
      const { operator, token } = await createOperator(db, { name: `${key} ${role}`, role, scope }, SEEDER, 'test chain');
      tokens[key][role] = token;
      operatorIds[key][role] = operator.operatorId;
    }
  }
  return { stores: STORES, tokens, operatorIds };
}

/** The request header that signs in with `token`. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
