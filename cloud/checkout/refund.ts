import { restoreCoupon } from '../coupons/coupons.ts';
import type { Database, Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { readMember } from '../ledger/members.ts';
import { refund } from '../ledger/refunds.ts';
import type { Actor, MemberView } from '../ledger/types.ts';
import { actorOf, idempotencyKeyOf, textOf } from '../ledger/validate.ts';
import { checkoutRow, toReceipt, type CheckoutReceipt } from './checkout.ts';

export interface RefundCheckoutInput {
  checkoutId: string;
  /** Unique per refund request: a retry with the same key returns the first result. */
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  /** The store handing the money back (settlement); default the store of the sale. */
  storeId?: string;
}

const alreadyRefunded = () => new LedgerError('ALREADY_REFUNDED', '该笔结账已退款 / This checkout has already been refunded.');

/**
 * Reverses every effect of a checkout exactly once: the ledger transaction through the ledger's refund
 * (stored value and spent points back to the member, earned points taken back — cloud/ledger/refunds.ts),
 * and, in the same database transaction (its effects), the checkout marked refunded and its coupon back to
 * 'issued'. The same transaction gives the points budgets back what the sale used, in the periods the sale
 * counted in (the ledger_refunds trigger of migration 012, see cloud/program/budgets.ts), and the checkout's
 * qualifying spend stops counting towards the tier (it is read only while refunded_at is NULL; the tier
 * itself is lowered by the review, never at once). A second refund with another key is ALREADY_REFUNDED;
 * the same key again replays.
 */
export async function refundCheckout(db: Database, input: RefundCheckoutInput): Promise<{ receipt: CheckoutReceipt; replay: boolean; member: MemberView }> {
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const original = await checkoutRow(db, input.checkoutId);
  const storeId = input.storeId === undefined ? original.store_id : textOf(input.storeId, 'storeId', 40);
  const done = async (replay: boolean) => {
    const receipt = toReceipt(await checkoutRow(db, original.id));
    return { receipt, replay, member: (await readMember(db, receipt.memberId))! };
  };
  if (original.refunded_at !== null) {
    if ((await refundKeyOf(db, original.id)) === idempotencyKey) return done(true);
    throw alreadyRefunded();
  }

  const markRefunded = async (tx: Queryable, refundTxId: string | null): Promise<void> => {
    const { rows } = await tx.query(
      `UPDATE checkouts SET refunded_at = now(), refund_tx_id = $2, refund_key = $3, refund_actor_type = $4, refund_actor_id = $5, refund_reason = $6
        WHERE id = $1 AND refunded_at IS NULL RETURNING id`,
      [original.id, refundTxId, idempotencyKey, actor.type, actor.id, reason],
    );
    if (rows.length === 0) throw alreadyRefunded();
    if (original.coupon_id) {
      await restoreCoupon(tx, { couponId: original.coupon_id, checkoutId: original.id, actor, reason: `Checkout ${original.id} refunded: ${reason}`.slice(0, 200) });
    }
  };

  try {
    if (original.tx_id === null) await db.transaction((tx) => markRefunded(tx, null));
    else await refund(db, { originalTxId: original.tx_id, idempotencyKey, actor, reason, storeId, effects: markRefunded });
  } catch (error) {
    // Lost a race with a concurrent refund of this checkout: the same key replays, another key is refused.
    if ((error as { code?: string }).code === '23505' || (error instanceof LedgerError && error.code === 'ALREADY_REFUNDED')) {
      if ((await refundKeyOf(db, original.id)) === idempotencyKey) return done(true);
      throw alreadyRefunded();
    }
    throw error;
  }
  return done(false);
}

async function refundKeyOf(q: Queryable, checkoutId: string): Promise<string | null> {
  const { rows } = await q.query<{ refund_key: string | null }>('SELECT refund_key FROM checkouts WHERE id = $1', [checkoutId]);
  return rows[0]?.refund_key ?? null;
}
