/**
 * Campaigns: offers aimed at a segment of the membership (lapsed customers, birthdays), drawing on the members
 * (ledger), their purchases (checkout) and the coupons they get (coupons). It owns no table of its own.
 */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { registerCampaignRoutes } from './routes.ts';

export function campaignsModule(hub: HubServices): HubModule {
  return {
    name: 'campaigns',
    tables: [],
    routes: async (api) => registerCampaignRoutes(api, { db: hub.db, ledger: hub.ledger }),
  };
}
