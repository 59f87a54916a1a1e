/** Coupons: templates (满减, percentage, points exchange), issuing to one member or a segment, and expiry. */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { expireCoupons } from './expiry-job.ts';
import { registerCouponRoutes } from './routes.ts';

export function couponsModule(hub: HubServices): HubModule {
  const { db, rules } = hub;
  return {
    name: 'coupons',
    tables: ['coupon_templates', 'coupons', 'coupon_audit'],
    routes: async (api) => registerCouponRoutes(api, { db, program: () => rules.current() }),
    jobs: [{ name: 'coupon-expiry', run: ({ asOf, logger }) => expireCoupons(db, { asOf, logger }) }],
  };
}
