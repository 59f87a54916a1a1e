import type { Queryable } from '../db/database.ts';
import type { RefundContext } from '../kernel/module.ts';
import { reverseCouponRedemption } from './coupon-redemptions.ts';
import { reverseVoucher, voucherByTx } from './vouchers.ts';

/**
 * The catalog's reverser: the refund of a redemption (through the voucher or coupon-redemption route, or the
 * ledger's generic refund) takes back what it issued — the voucher refunded, or the coupon voided — and returns
 * the unit to stock, in the refund's transaction; a voucher already used refuses the whole refund.
 */
export async function reverseRedemption(tx: Queryable, refund: RefundContext): Promise<void> {
  const voucher = await voucherByTx(tx, refund.originalTxId);
  if (voucher) await reverseVoucher(tx, voucher, refund);
  else await reverseCouponRedemption(tx, refund);
}
