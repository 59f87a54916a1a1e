import { defineErrors } from '../kernel/errors.ts';

/** The catalog's refusals (items, redemptions, vouchers): each means nothing was changed. */
export const catalogErrors = defineErrors('catalog', {
  /** No stock left for this item (at this store, when it is held per store). */
  OUT_OF_STOCK: 409,
  /** The member reached the item's redemption limit for now. */
  REDEMPTION_LIMIT_REACHED: 409,
  /** The item is inactive, outside its dates, not offered at this store or not for this member's tier. */
  ITEM_NOT_AVAILABLE: 409,
  VOUCHER_NOT_FOUND: 404,
  /** Not a voucher code, or a signed voucher that was altered or signed by someone else. */
  VOUCHER_INVALID: 400,
  /** Written off or refunded already. */
  VOUCHER_ALREADY_USED: 409,
  VOUCHER_EXPIRED: 409,
  /** The voucher can only be used at another store. */
  VOUCHER_WRONG_STORE: 409,
});
