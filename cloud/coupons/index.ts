/** Coupons: templates (满减, percentage, points exchange), issuing to a member, use at checkout, and expiry. */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { ledgerErrors } from '../ledger/index.ts';
import { couponErrors } from './errors.ts';
import { expireCoupons } from './expiry-job.ts';
import { registerCouponRoutes } from './routes.ts';

export {
  COUPON_STATUSES,
  couponById,
  insertCoupon,
  issueCoupon,
  markCouponUsed,
  restoreCoupon,
  termsToIssue,
  usableCoupon,
  voidCoupon,
  type CouponStatus,
  type CouponView,
} from './coupons.ts';
export { couponErrors } from './errors.ts';
export { Coupon, TemplateParams } from './schemas.ts';
export { getTemplate, type CouponTemplateView } from './templates.ts';

export function couponsModule(hub: HubServices): HubModule {
  const { db, ledger, rules } = hub;
  return {
    name: 'coupons',
    tables: ['coupon_templates', 'coupons', 'coupon_audit'],
    errors: couponErrors,
    routes: async (api) => registerCouponRoutes(api, { db, ledger, rules }),
    jobs: [{ name: 'coupon-expiry', run: ({ asOf, logger }) => expireCoupons(db, { asOf, logger }) }],
    // A coupon bought with points is the member's once issued: it can lapse, not be sold back.
    reverser: {
      reverse: async () => {
        throw ledgerErrors.NOT_REFUNDABLE({ zh: '用积分兑换的优惠券不能退', en: 'This bought a points-exchange coupon; coupons bought with points are not refunded' });
      },
      refusals: [],
    },
  };
}
