/** The POS checkout: quote a basket, pay it with points, stored value and cash, earn points, refund every effect. */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { reverseCheckout } from './refund.ts';
import { registerCheckoutRoutes } from './routes.ts';

export { lastPurchases } from './purchases.ts';

export function checkoutModule(hub: HubServices): HubModule {
  const { db, ledger, rules, outbox } = hub;
  return {
    name: 'checkout',
    tables: ['checkouts'],
    routes: async (api) => registerCheckoutRoutes(api, { db, ledger, outbox, rules }),
    reverser: { reverse: reverseCheckout, refusals: [] },
  };
}
