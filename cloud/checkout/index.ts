/** The POS checkout: quote a basket, pay it with points, stored value and cash, earn points, refund every effect. */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { registerCheckoutRoutes } from './routes.ts';

export function checkoutModule(hub: HubServices): HubModule {
  const { db, rules } = hub;
  return {
    name: 'checkout',
    tables: ['checkouts'],
    routes: async (api) => registerCheckoutRoutes(api, { db, program: () => rules.current() }),
  };
}
