import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, idempotencyKeyOf, textOf } from '../kernel/input.ts';
import type { RefundContext } from '../kernel/module.ts';
import { restoreCoupon } from '../coupons/index.ts';
import { ledgerErrors, lockMember, type Ledger, type MemberView } from '../ledger/index.ts';
import { cancelQualifyingSpend } from '../program/index.ts';
import { checkoutRow, getCheckout, type CheckoutReceipt } from './checkout.ts';

export interface RefundCheckoutInput {
  checkoutId: string;
  /** Unique per refund request: a retry with the same key returns the first result. */
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  /** The store handing the money back (settlement); default the store of the sale. */
  storeId?: string;
}

const alreadyRefunded = () => ledgerErrors.ALREADY_REFUNDED({ zh: '该笔结账已退款', en: 'This checkout has already been refunded' });

/**
 * Reverses every effect of a checkout exactly once. A sale that posted a ledger transaction is refunded through
 * the ledger (stored value and spent points back to the member, earned points taken back — the ledger's refund),
 * which hands the rest to reverseCheckout below in the same database transaction, whichever route the refund
 * came through; the points budgets get back what the sale used (program module, by the ledger_refunds trigger).
 * A cash-only sale is marked refunded under the member lock, once per key. A second refund with another key is
 * ALREADY_REFUNDED; the same key again replays.
 */
export async function refundCheckout(db: Database, ledger: Ledger, input: RefundCheckoutInput): Promise<{ receipt: CheckoutReceipt; replay: boolean; member: MemberView }> {
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const original = await checkoutRow(db, input.checkoutId);
  const storeId = input.storeId === undefined ? original.store_id : textOf(input.storeId, 'storeId', 40);
  let replay: boolean;
  if (original.tx_id === null) {
    const claim = { key: idempotencyKey, owner: 'checkout', fingerprint: `checkout-refund:${original.id}`, memberId: original.member_id };
    ({ replay } = await ledger.once(claim, async (tx) => {
      await lockMember(tx, original.member_id);
      await markRefunded(tx, original.id, { refundTxId: null, actor, reason });
      return { checkoutId: original.id };
    }));
  } else {
    ({ replay } = await ledger.refund({ originalTxId: original.tx_id, idempotencyKey, actor, reason, storeId }));
  }
  const receipt = await getCheckout(db, original.id);
  return { receipt, replay, member: (await ledger.readMember(db, receipt.memberId))! };
}

/** The checkout module's reverser: a refund of a checkout's ledger transaction takes everything else back with it. */
export async function reverseCheckout(tx: Queryable, refund: RefundContext): Promise<void> {
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM checkouts WHERE tx_id = $1', [refund.originalTxId]);
  if (!rows[0]) throw new Error(`checkout transaction ${refund.originalTxId} has no checkout`);
  await markRefunded(tx, rows[0].id, { refundTxId: refund.refundTxId, actor: refund.actor, reason: refund.reason });
}

/** The checkout marked refunded, its coupon back to 'issued', its spend no longer counting towards the tier. */
async function markRefunded(tx: Queryable, checkoutId: string, refund: { refundTxId: string | null; actor: Actor; reason: string }): Promise<void> {
  const { rows } = await tx.query<{ coupon_id: string | null }>(
    `UPDATE checkouts SET refunded_at = now(), refund_tx_id = $2, refund_actor_type = $3, refund_actor_id = $4, refund_reason = $5
      WHERE id = $1 AND refunded_at IS NULL RETURNING coupon_id`,
    [checkoutId, refund.refundTxId, refund.actor.type, refund.actor.id, refund.reason],
  );
  if (!rows[0]) throw alreadyRefunded();
  if (rows[0].coupon_id) {
    await restoreCoupon(tx, { couponId: rows[0].coupon_id, checkoutId, actor: refund.actor, reason: `Checkout ${checkoutId} refunded: ${refund.reason}`.slice(0, 200) });
  }
  await cancelQualifyingSpend(tx, checkoutId);
}
