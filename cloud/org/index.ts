/**
 * The organisation: headquarters, regions and stores; operators with a role and a scope; their audit trail and
 * the cross-store settlement statement. It also tells the access hooks who holds a token and where a store is.
 */
import type { HubModule, HubServices } from '../kernel/module.ts';
import type { Queryable } from '../db/database.ts';
import type { OperatorPrincipal } from '../kernel/principal.ts';
import { ensureBootstrapAdmin, operatorByToken, principalOfOperator } from './operators.ts';
import { orgErrors } from './errors.ts';
import { registerOrgRoutes } from './routes.ts';
import { getStore, storeNotFound } from './structure.ts';

export { orgErrors } from './errors.ts';
export { DEFAULT_TIME_ZONE, ORG_CODE_PATTERN, STORE_KINDS, orgCode, getStore, listStores, storeNotFound, storeTimeZones, storeTimeZoneSql, type Store, type StoreKind } from './structure.ts';

export function orgModule(hub: HubServices): HubModule {
  return {
    name: 'org',
    errors: orgErrors,
    tables: ['regions', 'stores', 'operators', 'operator_audit'],
    routes: async (api) => registerOrgRoutes(api, { db: hub.db }),
    async start() {
      if (!hub.config.adminToken) return;
      const admin = await ensureBootstrapAdmin(hub.db, hub.config.adminToken);
      hub.logger.info({ operatorId: admin.operatorId }, 'bootstrap HQ admin ready (HUB_ADMIN_TOKEN)');
    },
  };
}

/** The operator holding a bearer token, for the access hooks; 'inactive' for a deactivated one. */
export async function signedInOperator(q: Queryable, token: string): Promise<OperatorPrincipal | 'inactive' | undefined> {
  const operator = await operatorByToken(q, token);
  if (!operator) return undefined;
  return operator.active ? principalOfOperator(operator) : 'inactive';
}

/** The region of a store, for the access hooks; STORE_NOT_FOUND when there is none. */
export async function regionOfStore(q: Queryable, storeId: string): Promise<string> {
  const store = await getStore(q, storeId);
  if (!store) throw storeNotFound(storeId);
  return store.regionId;
}
