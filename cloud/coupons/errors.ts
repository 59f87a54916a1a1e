import { defineErrors } from '../kernel/errors.ts';

/** The coupons module's refusals: each means nothing was changed. */
export const couponErrors = defineErrors('coupons', {
  /** No coupon (or coupon template) has this code or id. */
  COUPON_NOT_FOUND: 404,
  /** The coupon cannot be used here: expired, cancelled, not issued any more, or the purchase does not meet its terms. */
  COUPON_NOT_APPLICABLE: 409,
  COUPON_ALREADY_USED: 409,
});
