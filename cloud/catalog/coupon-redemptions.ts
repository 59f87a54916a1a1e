import { isUuid } from '../../shared/ids.ts';
import type { CouponTemplate } from '../../shared/rules/coupons.ts';
import type { CatalogItemRules } from '../../shared/rules/redemption.ts';
import { type CouponTemplateView, type CouponView, couponById, getTemplate, insertCoupon, termsToIssue, voidCoupon } from '../coupons/index.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import type { RefundContext } from '../kernel/module.ts';
import { HubError } from '../kernel/errors.ts';
import { LedgerError, type Ledger, type RefundResult } from '../ledger/index.ts';
import { returnToStock } from './items.ts';

/**
 * Catalog items of kind 'coupon' (migration 013): redeeming one issues a coupon from the item's template instead
 * of a voucher. A member uses a coupon at checkout by its code, so a voucher for a cashier to write off would be
 * a second thing to hand over for the same benefit; the coupon is all the member gets.
 *
 * The coupon is written in the redemption's ledger transaction (its effects), with the transaction as its
 * purchase and an issue key derived from it, so a redemption issues exactly one coupon and a replayed request
 * returns that coupon. Refunding the redemption (POST /catalog/redemptions/:txId/refunds) returns points, cash
 * part, stock and points budget and voids the coupon in one transaction; it is refused while the coupon is used
 * (refund that checkout first, which gives the coupon back) and after it expired (like an expired voucher).
 */

export interface CouponRedemption {
  txId: string;
  itemId: string;
  memberId: string;
  coupon: CouponView;
  refundTxId?: string;
}

interface CouponRedemptionRow {
  ledger_tx_id: string;
  coupon_id: string;
  item_id: string;
  member_id: string;
  stock_store_id: string | null;
  refund_tx_id: string | null;
}

/** The issue key of the coupon a redemption issues: one per redemption, however often its effects are retried. */
const issueKeyOf = (txId: string) => `catalog-redemption:${txId}`;

/**
 * The terms of the coupon a redemption of `item` issues at `at`, or ITEM_NOT_AVAILABLE when its template was
 * stopped or has ended since the item was defined (checked before posting for a clear refusal, and again in the
 * effects).
 */
export async function couponTermsFor(q: Queryable, item: CatalogItemRules, at: Date): Promise<{ template: CouponTemplateView; terms: CouponTemplate }> {
  const template = await getTemplate(q, item.couponTemplateId);
  try {
    return { template, terms: termsToIssue(template, at) };
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    throw new LedgerError(
      'ITEM_NOT_AVAILABLE',
      `「${item.nameZh}」暂停兑换：优惠券已停发 / "${item.nameEn}" cannot be redeemed now: its coupon is no longer issued`,
    );
  }
}

export interface IssueRedemptionCouponInput {
  txId: string;
  item: CatalogItemRules;
  memberId: string;
  storeId: string;
  /** The store whose stock was taken (item held per store), or null. */
  stockStoreId: string | null;
  points: number;
  cashFen: number;
  periodKey: string;
  at: Date;
  actor: Actor;
}

/** Issues the redemption's coupon; call inside the redemption's ledger transaction, after the stock is taken. */
export async function issueRedemptionCoupon(tx: Queryable, input: IssueRedemptionCouponInput): Promise<void> {
  const { template, terms } = await couponTermsFor(tx, input.item, input.at);
  const coupon = await insertCoupon(tx, {
    template,
    terms,
    memberId: input.memberId,
    issueKey: issueKeyOf(input.txId),
    purchaseTxId: input.txId,
    actor: input.actor,
    reason: `积分兑换 Redeemed: ${input.item.nameZh} ${input.item.nameEn}`.slice(0, 200),
  });
  // Effects run once per posted transaction; a second coupon for one redemption would be a bug, not a retry.
  if (!coupon) throw new Error(`redemption ${input.txId} already issued a coupon`);
  await tx.query(
    `INSERT INTO catalog_coupon_redemptions (ledger_tx_id, coupon_id, item_id, member_id, redeemed_store_id, stock_store_id, points, cash_fen, period_key, issued_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [input.txId, coupon.couponId, input.item.id, input.memberId, input.storeId, input.stockStoreId, input.points, input.cashFen, input.periodKey, input.at],
  );
}

async function redemptionRow(q: Queryable, txId: string): Promise<CouponRedemptionRow | undefined> {
  const { rows } = await q.query<CouponRedemptionRow>('SELECT * FROM catalog_coupon_redemptions WHERE ledger_tx_id = $1', [txId]);
  return rows[0];
}

/** The coupon redemption a ledger transaction made, or undefined (not a coupon redemption). */
export async function couponRedemptionByTx(q: Queryable, txId: string): Promise<CouponRedemption | undefined> {
  const row = isUuid(txId) ? await redemptionRow(q, txId) : undefined;
  if (!row) return undefined;
  return {
    txId: row.ledger_tx_id,
    itemId: row.item_id,
    memberId: row.member_id,
    coupon: (await couponById(q, row.coupon_id))!,
    ...(row.refund_tx_id ? { refundTxId: row.refund_tx_id } : {}),
  };
}

export const couponRedemptionNotFound = (txId: string): LedgerError =>
  new LedgerError('TRANSACTION_NOT_FOUND', `No coupon redemption has the transaction id ${txId}.`);

export interface RefundCouponRedemptionInput {
  txId: string;
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  /** The store handing the cash part back, for settlement. */
  storeId?: string;
}

/**
 * Refunds a coupon redemption exactly once through the ledger, which returns points and cash part and hands the
 * rest to reverseCouponRedemption in the same transaction. A used or expired coupon refuses the whole refund
 * (nothing changes). The same key replays the first result; another key gets ALREADY_REFUNDED.
 */
export async function refundCouponRedemption(
  db: Database,
  ledger: Ledger,
  input: RefundCouponRedemptionInput,
): Promise<{ refund: RefundResult; redemption: CouponRedemption }> {
  const found = await couponRedemptionByTx(db, input.txId);
  if (!found) throw couponRedemptionNotFound(input.txId);
  const result = await ledger.refund({
    originalTxId: found.txId,
    idempotencyKey: input.idempotencyKey,
    actor: input.actor,
    reason: input.reason,
    ...(input.storeId === undefined ? {} : { storeId: input.storeId }),
  });
  return { refund: result, redemption: (await couponRedemptionByTx(db, found.txId))! };
}

/** The refund of a coupon redemption, whichever route it came through: the coupon voided, the unit back to stock. */
export async function reverseCouponRedemption(tx: Queryable, refund: RefundContext): Promise<void> {
  const { rows } = await tx.query<CouponRedemptionRow>(
    'UPDATE catalog_coupon_redemptions SET refund_tx_id = $2 WHERE ledger_tx_id = $1 AND refund_tx_id IS NULL RETURNING *',
    [refund.originalTxId, refund.refundTxId],
  );
  // The ledger refunds a transaction once, so the row cannot have been refunded meanwhile.
  if (!rows[0]) throw new Error(`coupon redemption ${refund.originalTxId} was refunded outside the ledger`);
  await voidCoupon(tx, { couponId: rows[0].coupon_id, actor: refund.actor, reason: refund.reason, detail: { redemptionTxId: refund.originalTxId, refundTxId: refund.refundTxId } });
  await returnToStock(tx, rows[0].item_id, rows[0].stock_store_id, 1);
}
