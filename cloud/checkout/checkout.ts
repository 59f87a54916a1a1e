import { createHash } from 'node:crypto';
import { isUuid, newId } from '../../shared/ids.ts';
import { InvalidAmountError } from '../../shared/money.ts';
import {
  CheckoutInputError,
  priceBasket,
  settleCheckout,
  type BasketPrice,
  type CategoryEarning,
  type CheckoutLine,
  type PaymentPlan,
  type Tenders,
} from '../../shared/rules/checkout.ts';
import { pointsPerYuanOf, pointsToFen } from '../../shared/rules/points-value.ts';
import { parseInstant } from '../../shared/rules/window.ts';
import type { TierId } from '../../shared/rules/tiers.ts';
import { markCouponUsed, usableCoupon, type CouponView } from '../coupons/coupons.ts';
import type { Database, Queryable } from '../db/database.ts';
import { systemAccounts } from '../ledger/accounts.ts';
import { LedgerError } from '../ledger/errors.ts';
import { memberNotFound, readMember } from '../ledger/members.ts';
import { postTransaction, storedValueSpendLegs, type Leg } from '../ledger/posting.ts';
import type { Actor, MemberView } from '../ledger/types.ts';
import { actorOf, cardUidOf, idempotencyKeyOf, memberIdOf, textOf } from '../ledger/validate.ts';
import { budgetAllowance, consumeBudget, type BudgetUse } from '../program/budgets.ts';
import { awardLegs, awardLots } from '../program/points-award.ts';
import { rewardReferralOnPurchase } from '../program/referrals.ts';
import type { PublishedRules } from '../program/rules-store.ts';
import { recordQualifyingSpend } from '../program/tiers.ts';
import { getStore, storeNotFound } from '../org/structure.ts';

/**
 * The POS checkout on the hub: quote a basket, pay it (one 'checkout' ledger transaction for every value
 * movement, the coupon marked used in the same database transaction), look it up. Pricing, payment split
 * and points earned are the pure rules of shared/rules/checkout.ts; this module reads the facts they need
 * (member tier, balances, coupon terms, program rules) and writes the result. Refunds: refund.ts.
 */

/** The program rules a sale is priced with (cloud/program/rules-store.ts); the version is recorded on the checkout. */
export type ProgramSource = () => Promise<PublishedRules>;

export interface BasketInput {
  memberId: string;
  storeId: string;
  lines: CheckoutLine[];
  /** The code of a coupon the member holds; at most one per checkout. */
  couponCode?: string;
  /** When the sale happened (ISO with offset); default now. Coupon windows and campaigns are judged at it. */
  occurredAt?: string;
}

export interface QuoteInput extends BasketInput {
  /** Optional: also plan this payment and show the points it earns. */
  payment?: Tenders;
}

export interface Quote {
  memberId: string;
  storeId: string;
  tier: string;
  rulesVersion: number;
  price: BasketPrice;
  coupon: { code: string; label: { zh: string; en: string } } | null;
  /** Points→cash ratio of the member's tier: this many points pay ¥1. */
  pointsPerYuan: number;
  /** The most of this basket the member's points can pay (fen). */
  maxPointsFen: number;
  /** With `payment`: the plan and the points the rules earn for it (before any points budget cut, see payCheckout). */
  payment?: PaymentPlan;
  pointsEarned?: number;
}

export interface PayInput extends BasketInput {
  /** Unique per sale: a retry with the same key returns the first receipt. */
  idempotencyKey: string;
  payment: Tenders;
  actor: Actor;
  reason?: string;
  cardUid?: string;
}

export interface CheckoutReceipt {
  checkoutId: string;
  /** The 'checkout' ledger transaction; null when the sale moved no member value (cash only, no points earned). */
  txId: string | null;
  memberId: string;
  storeId: string;
  occurredAt: string;
  rulesVersion: number;
  price: BasketPrice;
  payment: PaymentPlan & { storedValuePrincipalFen: number; storedValueBonusFen: number };
  /** Points awarded: what the rules earn (earnedByCategory), less what the points budget cut. */
  pointsEarned: number;
  earnedByCategory: CategoryEarning[];
  /** Points the rules earned but a member or store points budget did not allow (0 normally). */
  pointsCutByBudget: number;
  coupon: { couponId: string; code: string; discountFen: number } | null;
  refund: { refundTxId: string | null; refundedAt: string } | null;
}

/** The rules' refusals of a basket or payment, as ledger errors (400): nothing was changed. */
function asLedgerError(error: unknown): unknown {
  if (error instanceof CheckoutInputError) return new LedgerError('INVALID_INPUT', `${error.message}.`);
  if (error instanceof InvalidAmountError) return new LedgerError('INVALID_AMOUNT', `${error.message}.`);
  return error;
}

function instantOf(occurredAt: string | undefined): Date {
  if (occurredAt === undefined) return new Date();
  const ms = parseInstant(occurredAt);
  if (ms === null) throw new LedgerError('INVALID_INPUT', 'occurredAt must be an ISO timestamp with an offset, e.g. 2026-06-01T10:00:00+08:00.');
  return new Date(ms);
}

interface Facts {
  memberId: string;
  storeId: string;
  member: MemberView;
  tier: TierId;
  at: Date;
  coupon: CouponView | undefined;
  program: PublishedRules;
}

/** Everything a price depends on, read before any transaction (PGlite: never query `db` inside one). */
async function factsOf(db: Database, program: ProgramSource, input: BasketInput): Promise<Facts> {
  const memberId = memberIdOf(input.memberId);
  const storeId = textOf(input.storeId, 'storeId', 40);
  const at = instantOf(input.occurredAt);
  if (!(await getStore(db, storeId))) throw storeNotFound(storeId);
  const member = await readMember(db, memberId);
  if (!member) throw memberNotFound(memberId);
  const coupon = input.couponCode === undefined ? undefined : await usableCoupon(db, memberId, input.couponCode);
  return { memberId, storeId, member, tier: member.tier as TierId, at, coupon, program: await program() };
}

export async function quoteCheckout(db: Database, program: ProgramSource, input: QuoteInput): Promise<Quote> {
  const facts = await factsOf(db, program, input);
  const { rules, version } = facts.program;
  const basket = { lines: input.lines, tier: facts.tier, storeId: facts.storeId, at: facts.at, ...(facts.coupon ? { coupon: facts.coupon.terms } : {}) };
  try {
    const price = priceBasket(rules.tiers, basket);
    const pointsPerYuan = pointsPerYuanOf(facts.tier, rules.tiers);
    const settled = input.payment === undefined ? undefined : settleCheckout(rules, { ...basket, tenders: input.payment });
    return {
      memberId: facts.memberId,
      storeId: facts.storeId,
      tier: facts.tier,
      rulesVersion: version,
      price,
      coupon: facts.coupon ? { code: facts.coupon.code, label: facts.coupon.label } : null,
      pointsPerYuan,
      maxPointsFen: Math.min(price.payableFen, pointsToFen(facts.member.balances.points, pointsPerYuan)),
      ...(settled ? { payment: settled.payment, pointsEarned: settled.pointsEarned } : {}),
    };
  } catch (error) {
    throw asLedgerError(error);
  }
}

/** Everything in the request that makes two requests "the same" (the server's clock is not part of it). */
function requestHash(input: PayInput, actor: Actor): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        input.memberId,
        input.storeId,
        input.lines.map((l) => [l.sku, l.category, l.unitPriceFen, l.quantity]),
        input.couponCode ?? null,
        input.occurredAt ?? null,
        [input.payment.pointsFen ?? 0, input.payment.storedValueFen ?? 0, input.payment.cashFen ?? 0],
        input.cardUid ?? null,
        input.reason ?? null,
        actor.type,
        actor.id,
      ]),
    )
    .digest('hex');
}

interface CheckoutRow {
  id: string;
  request_hash: string;
  member_id: string;
  store_id: string;
  occurred_at: Date;
  rules_version: number;
  pricing: BasketPrice;
  payment: CheckoutReceipt['payment'] & { earnedByCategory: CategoryEarning[]; pointsCutByBudget: number };
  points_earned: number;
  coupon_id: string | null;
  coupon_code: string | null;
  tx_id: string | null;
  refund_tx_id: string | null;
  refunded_at: Date | null;
}

const SELECT_CHECKOUT = 'SELECT c.*, cp.code AS coupon_code FROM checkouts c LEFT JOIN coupons cp ON cp.id = c.coupon_id';

export function toReceipt(row: CheckoutRow): CheckoutReceipt {
  const { earnedByCategory, pointsCutByBudget, ...payment } = row.payment;
  return {
    checkoutId: row.id,
    txId: row.tx_id,
    memberId: row.member_id,
    storeId: row.store_id,
    occurredAt: new Date(row.occurred_at).toISOString(),
    rulesVersion: Number(row.rules_version),
    price: row.pricing,
    payment,
    pointsEarned: Number(row.points_earned),
    earnedByCategory,
    pointsCutByBudget,
    coupon: row.coupon_id ? { couponId: row.coupon_id, code: row.coupon_code!, discountFen: row.pricing.couponDiscountFen } : null,
    refund: row.refunded_at ? { refundTxId: row.refund_tx_id, refundedAt: new Date(row.refunded_at).toISOString() } : null,
  };
}

export async function checkoutRow(q: Queryable, checkoutId: unknown): Promise<CheckoutRow> {
  const notFound = new LedgerError('NOT_FOUND', `No checkout has the id ${String(checkoutId)}.`);
  if (!isUuid(checkoutId)) throw notFound;
  const { rows } = await q.query<CheckoutRow>(`${SELECT_CHECKOUT} WHERE c.id = $1`, [checkoutId]);
  if (!rows[0]) throw notFound;
  return rows[0];
}

export async function getCheckout(q: Queryable, checkoutId: unknown): Promise<CheckoutReceipt> {
  return toReceipt(await checkoutRow(q, checkoutId));
}

/** The receipt stored under this key, when the request matches the one that used it; undefined when the key is new. */
async function previous(q: Queryable, idempotencyKey: string, hash: string): Promise<CheckoutReceipt | undefined> {
  const { rows } = await q.query<CheckoutRow>(`${SELECT_CHECKOUT} WHERE c.idempotency_key = $1`, [idempotencyKey]);
  const row = rows[0];
  if (!row) return undefined;
  if (row.request_hash !== hash) {
    throw new LedgerError('IDEMPOTENCY_CONFLICT', 'This request key was already used for a different checkout, so nothing was done. Start a new request.');
  }
  return toReceipt(row);
}

export interface PayResult {
  receipt: CheckoutReceipt;
  /** True when this key was already used: the first receipt is returned and nothing changed. */
  replay: boolean;
  member: MemberView;
}

/** Where payCheckout reports what went wrong after its commit (the sale itself stands). */
export interface CheckoutLog {
  error(details: object, message: string): void;
}

/**
 * Pays a basket. Every value movement is in ONE 'checkout' ledger transaction: stored value split
 * principal/bonus by the program's spending order from balances read under the member lock, points spent
 * (to points_redeemed), points earned on the money paid (from points_issued, in a lot expiring by the
 * program's policy). Its effects, in the same database transaction, write the checkout row, mark the coupon
 * used, consume the points budgets and record the qualifying spend (tier upgrade), so all of it commits or
 * none. A sale that moves no member value (cash only, nothing earned) is recorded without a ledger
 * transaction, under the member lock, and its cash still counts towards the tier (upgrading at once).
 * Idempotent per key. After the commit, a pending first-purchase referral reward is paid.
 *
 * Points budgets (cloud/program/budgets.ts): the points earned are cut to what the member's and the store's
 * earn caps still allow (receipt.pointsCutByBudget says by how much); points spent beyond a spend cap refuse
 * the sale (BUDGET_EXCEEDED). A concurrent sale that fills a cap first makes this one BUDGET_EXCEEDED; a
 * retry is then capped to what is left.
 */
export async function payCheckout(db: Database, program: ProgramSource, input: PayInput, log?: CheckoutLog): Promise<PayResult> {
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason ?? 'POS checkout', 'reason', 200);
  const cardUid = input.cardUid === undefined ? undefined : cardUidOf(input.cardUid);
  const hash = requestHash(input, actor);
  const replayed = await previous(db, idempotencyKey, hash);
  if (replayed) return { receipt: replayed, replay: true, member: (await readMember(db, replayed.memberId))! };

  const facts = await factsOf(db, program, input);
  const { rules, version } = facts.program;
  let settled: ReturnType<typeof settleCheckout>;
  try {
    settled = settleCheckout(rules, {
      lines: input.lines,
      tier: facts.tier,
      storeId: facts.storeId,
      at: facts.at,
      tenders: input.payment,
      ...(facts.coupon ? { coupon: facts.coupon.terms } : {}),
    });
  } catch (error) {
    throw asLedgerError(error);
  }
  const { price, payment, earnedByCategory } = settled;
  if (price.coupon && !price.coupon.applies) {
    const { zh, en } = price.coupon.reason;
    throw new LedgerError('COUPON_NOT_APPLICABLE', `${zh} / ${en}.`);
  }
  const budgetUse = (direction: BudgetUse['direction'], points: number): BudgetUse => ({
    memberId: facts.memberId,
    storeId: facts.storeId,
    direction,
    points,
    at: facts.at,
  });
  const pointsEarned = (await budgetAllowance(db, rules.budgets, budgetUse('earn', settled.pointsEarned))).allowedPoints;
  if (payment.pointsSpent > 0 && (await budgetAllowance(db, rules.budgets, budgetUse('spend', payment.pointsSpent))).allowedPoints < payment.pointsSpent) {
    throw new LedgerError('BUDGET_EXCEEDED', '积分使用额度不足 / The points spending budget does not allow this many points now; nothing was changed.');
  }

  const checkoutId = newId();
  const split = { storedValuePrincipalFen: 0, storedValueBonusFen: 0 };
  const stored = { ...payment, earnedByCategory, pointsCutByBudget: settled.pointsEarned - pointsEarned };
  const writeCheckout = async (tx: Queryable, txId: string | null): Promise<void> => {
    await tx.query(
      `INSERT INTO checkouts (id, idempotency_key, request_hash, member_id, store_id, occurred_at, rules_version, basket, pricing,
                              payment, payable_fen, points_earned, coupon_id, tx_id, actor_type, actor_id, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15, $16, $17)`,
      [
        checkoutId, idempotencyKey, hash, facts.memberId, facts.storeId, facts.at, version, JSON.stringify(input.lines),
        JSON.stringify(price), JSON.stringify({ ...stored, ...split }), price.payableFen, pointsEarned,
        facts.coupon?.couponId ?? null, txId, actor.type, actor.id, reason,
      ],
    );
    if (facts.coupon) {
      await markCouponUsed(tx, { couponId: facts.coupon.couponId, memberId: facts.memberId, checkoutId, actor, reason: `Used in checkout ${checkoutId}` });
    }
    if (txId !== null) {
      // Recorded against txId: refunding the sale gives these points back to the budgets (migration 012).
      await consumeBudget(tx, rules.budgets, budgetUse('earn', pointsEarned), txId);
      await consumeBudget(tx, rules.budgets, budgetUse('spend', payment.pointsSpent), txId);
    }
    // Every sale's money (stored value + cash) counts towards the tier at its instant, also a cash-only one.
    await recordQualifyingSpend(
      tx,
      { memberId: facts.memberId, checkoutId, txId, amountFen: payment.moneyFen },
      { program: facts.program, at: facts.at, actor, reason },
    );
  };

  const movesValue = payment.storedValueFen > 0 || payment.pointsSpent > 0 || pointsEarned > 0;
  try {
    if (movesValue) {
      await postTransaction(db, {
        kind: 'checkout',
        idempotencyKey,
        memberId: facts.memberId,
        actor,
        reason,
        storeId: facts.storeId,
        ...(cardUid === undefined ? {} : { cardUid }),
        intent: { hash, payment, pointsEarned, couponId: facts.coupon?.couponId ?? null, spendingOrder: rules.spendingOrder },
        legs: (balances) => {
          const legs: Leg[] = [];
          if (payment.storedValueFen > 0) {
            const spend = storedValueSpendLegs(rules.spendingOrder, balances, payment.storedValueFen, systemAccounts.storedValueSpent());
            split.storedValuePrincipalFen = -spend.find((leg) => leg.account === 'stored_principal')!.amount;
            split.storedValueBonusFen = -spend.find((leg) => leg.account === 'stored_bonus')!.amount;
            legs.push(...spend);
          }
          // Spent before earned: points earned by this sale cannot pay for it (the ledger applies legs in order).
          legs.push({ account: 'points', amount: -payment.pointsSpent }, { account: systemAccounts.pointsRedeemed(), amount: payment.pointsSpent });
          legs.push(...awardLegs(pointsEarned));
          return legs;
        },
        pointsLots: awardLots(rules, facts.at),
        effects: writeCheckout,
      });
    } else {
      await db.transaction(async (tx) => {
        // The member lock postTransaction would take: the tier upgrade reads and writes under it.
        await tx.query('SELECT 1 FROM members WHERE id = $1 FOR UPDATE', [facts.memberId]);
        await writeCheckout(tx, null);
      });
    }
  } catch (error) {
    // A concurrent request with the same key committed first: answer as its replay (or its conflict).
    const first = isDuplicate(error) ? await previous(db, idempotencyKey, hash) : undefined;
    if (!first) throw error;
    return { receipt: first, replay: true, member: (await readMember(db, first.memberId))! };
  }
  const receipt = (await previous(db, idempotencyKey, hash))!;
  const replay = receipt.checkoutId !== checkoutId;
  if (!replay) {
    await rewardReferralOnPurchase(db, facts.program, facts.memberId, price.payableFen, actor).catch((error: unknown) =>
      log?.error({ err: error, checkoutId }, 'first-purchase referral reward failed; the sale stands'),
    );
  }
  return { receipt, replay, member: (await readMember(db, facts.memberId))! };
}

function isDuplicate(error: unknown): boolean {
  return (error as { code?: string }).code === '23505' || (error instanceof LedgerError && error.code === 'IDEMPOTENCY_CONFLICT');
}
