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
import { pointsExpireAt } from '../../shared/rules/points-expiry.ts';
import { couponById, couponErrors, markCouponUsed, usableCoupon, type CouponView } from '../coupons/index.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { actorOf, idempotencyKeyOf, invalid, textOf } from '../kernel/input.ts';
import type { Outbox } from '../kernel/outbox.ts';
import {
  awardLegs,
  cardUidOf,
  ledgerErrors,
  lockMember,
  memberIdOf,
  pointsSpendLegs,
  storedValueSpendLegs,
  systemAccounts,
  type IdempotentRequest,
  type Leg,
  type Ledger,
  type LockedBalances,
  type MemberView,
} from '../ledger/index.ts';
import { getStore, storeNotFound } from '../org/index.ts';
import {
  PURCHASE_FOLLOW_UP,
  budgetAllowance,
  consumeBudget,
  programErrors,
  recordQualifyingSpend,
  type BudgetUse,
  type PublishedRules,
  type ReferralPurchase,
  type RulesStore,
} from '../program/index.ts';

/**
 * The POS checkout on the hub: quote a basket, pay it (one 'checkout' ledger transaction for every value
 * movement, the coupon marked used in the same database transaction), look it up. Pricing, payment split
 * and points earned are the pure rules of shared/rules/checkout.ts; this module reads the facts they need
 * (member tier, balances, coupon terms, program rules) and writes the result. Refunds: refund.ts.
 */

/** Where a sale's program rules come from: the current ones (cloud/program/rules-store.ts); the version is recorded on the checkout. */
export type ProgramSource = Pick<RulesStore, 'current'>;

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

/**
 * The rules' refusals of a basket or payment, as refusals (400): nothing was changed. The rules describe the
 * problem in English, with the API's field names; the Chinese half says what to check.
 */
function asRefusal(error: unknown): unknown {
  if (error instanceof CheckoutInputError) return invalid(`购物篮或付款有误，请核对：${error.message}`, error.message);
  if (error instanceof InvalidAmountError) return ledgerErrors.INVALID_AMOUNT({ zh: `金额有误，请核对：${error.message}`, en: error.message });
  return error;
}

function instantOf(occurredAt: string | undefined): Date {
  if (occurredAt === undefined) return new Date();
  const ms = parseInstant(occurredAt);
  if (ms === null) {
    throw invalid('occurredAt 须为带时区的 ISO 时间，例如 2026-06-01T10:00:00+08:00', 'occurredAt must be an ISO timestamp with an offset, e.g. 2026-06-01T10:00:00+08:00');
  }
  return new Date(ms);
}

interface Facts {
  memberId: string;
  storeId: string;
  lines: CheckoutLine[];
  member: MemberView;
  tier: TierId;
  at: Date;
  coupon: CouponView | undefined;
  program: PublishedRules;
}

/** Everything a price depends on, read before any transaction (PGlite: never query `db` inside one). */
async function factsOf({ db, ledger, rules }: SaleDeps, input: BasketInput): Promise<Facts> {
  const memberId = memberIdOf(input.memberId);
  const storeId = textOf(input.storeId, 'storeId', 40);
  const at = instantOf(input.occurredAt);
  if (!(await getStore(db, storeId))) throw storeNotFound(storeId);
  const member = await ledger.getMember(memberId);
  const coupon = input.couponCode === undefined ? undefined : await usableCoupon(db, memberId, input.couponCode);
  return { memberId, storeId, lines: input.lines, member, tier: member.tier as TierId, at, coupon, program: await rules.current() };
}

/** What pricing and paying a sale read from. */
export interface SaleDeps {
  db: Database;
  ledger: Ledger;
  /** The hub's published program rules (its RulesStore): a sale is priced with the current ones. */
  rules: ProgramSource;
}

export async function quoteCheckout(deps: SaleDeps, input: QuoteInput): Promise<Quote> {
  const facts = await factsOf(deps, input);
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
    throw asRefusal(error);
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
  member_id: string;
  store_id: string;
  occurred_at: Date;
  rules_version: number;
  pricing: BasketPrice;
  payment: CheckoutReceipt['payment'] & { earnedByCategory: CategoryEarning[]; pointsCutByBudget: number };
  points_earned: number;
  coupon_id: string | null;
  tx_id: string | null;
  refund_tx_id: string | null;
  refunded_at: Date | null;
}

/** The receipt of a checkout row; the coupon's code comes from the coupons module, which owns it. */
async function toReceipt(q: Queryable, row: CheckoutRow): Promise<CheckoutReceipt> {
  const { earnedByCategory, pointsCutByBudget, ...payment } = row.payment;
  const coupon = row.coupon_id ? await couponById(q, row.coupon_id) : undefined;
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
    coupon: coupon ? { couponId: coupon.couponId, code: coupon.code, discountFen: row.pricing.couponDiscountFen } : null,
    refund: row.refunded_at ? { refundTxId: row.refund_tx_id, refundedAt: new Date(row.refunded_at).toISOString() } : null,
  };
}

export async function checkoutRow(q: Queryable, checkoutId: unknown): Promise<CheckoutRow> {
  const notFound = kernelErrors.NOT_FOUND({ zh: `没有编号为 ${String(checkoutId)} 的结账记录`, en: `No checkout has the id ${String(checkoutId)}` });
  if (!isUuid(checkoutId)) throw notFound;
  const { rows } = await q.query<CheckoutRow>('SELECT * FROM checkouts WHERE id = $1', [checkoutId]);
  if (!rows[0]) throw notFound;
  return rows[0];
}

export async function getCheckout(q: Queryable, checkoutId: unknown): Promise<CheckoutReceipt> {
  return toReceipt(q, await checkoutRow(q, checkoutId));
}

export interface PayResult {
  receipt: CheckoutReceipt;
  /** True when this key was already used: the first receipt is returned and nothing changed. */
  replay: boolean;
  member: MemberView;
}

/** A priced sale, ready to be recorded: what the rules settled, the points the budgets allow, the budget uses. */
interface Sale {
  facts: Facts;
  checkoutId: string;
  price: BasketPrice;
  payment: PaymentPlan;
  earnedByCategory: readonly CategoryEarning[];
  /** Points awarded: what the rules earn, cut to what the points budgets allow. */
  pointsEarned: number;
  pointsCutByBudget: number;
}

/** How the stored value of a sale was split (under the member lock); zero when it paid none. */
interface Split {
  storedValuePrincipalFen: number;
  storedValueBonusFen: number;
}

const NO_SPLIT: Split = { storedValuePrincipalFen: 0, storedValueBonusFen: 0 };

/** What a request carries besides the basket, checked before anything is read. */
interface PayRequest {
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  cardUid: string | undefined;
  /** What makes a retry the same sale (the idempotency fingerprint). */
  fingerprint: string;
}

export interface PayDeps extends SaleDeps {
  /** Follow-ups of a sale (a referral it completes) are left here, in its transaction. */
  outbox: Pick<Outbox, 'add' | 'poke'>;
}

/**
 * Pays a basket. Every value movement is in ONE 'checkout' ledger transaction: stored value split
 * principal/bonus by the program's spending order from balances read under the member lock, points spent
 * (to points_redeemed), points earned on the money paid (from points_issued, in a lot expiring by the
 * program's policy). Its effects, in the same database transaction, write the checkout row, mark the coupon
 * used, consume the points budgets, record the qualifying spend (tier upgrade) and leave the purchase for the
 * referral program in the outbox, so all of it commits or none. A sale that moves no member value (cash only,
 * nothing earned) is recorded without a ledger transaction, under the member lock, and its cash still counts
 * towards the tier (upgrading at once). Idempotent per key.
 *
 * Points budgets (program module): the points earned are cut to what the member's and the store's earn caps still
 * allow (receipt.pointsCutByBudget says by how much); points spent beyond a spend cap refuse the sale
 * (BUDGET_EXCEEDED). A concurrent sale that fills a cap first makes this one BUDGET_EXCEEDED; a retry is then
 * capped to what is left.
 */
export async function payCheckout(deps: PayDeps, input: PayInput): Promise<PayResult> {
  const { db, ledger, outbox } = deps;
  const request = payRequestOf(input);
  const claim = { key: request.idempotencyKey, owner: 'checkout', fingerprint: request.fingerprint, memberId: memberIdOf(input.memberId) };
  // A retry gets its receipt even if the coupon has been used since (by this very sale).
  const earlier = await ledger.earlierResult<{ outcome: { checkoutId: string } }>(claim);
  if (earlier) return resultOf(db, ledger, earlier.outcome.checkoutId, true);

  const sale = await priceSale(deps, input);
  const { replay, checkoutId } = movesValue(sale)
    ? await postSale(ledger, outbox, sale, request)
    : await recordCashSale(ledger, outbox, sale, request, claim);
  if (!replay) outbox.poke();
  return resultOf(db, ledger, checkoutId, replay);
}

function payRequestOf(input: PayInput): PayRequest {
  const actor = actorOf(input.actor);
  return {
    idempotencyKey: idempotencyKeyOf(input.idempotencyKey),
    actor,
    reason: textOf(input.reason ?? 'POS checkout', 'reason', 200),
    cardUid: input.cardUid === undefined ? undefined : cardUidOf(input.cardUid),
    fingerprint: requestHash(input, actor),
  };
}

async function resultOf(db: Queryable, ledger: Ledger, checkoutId: string, replay: boolean): Promise<PayResult> {
  const receipt = await getCheckout(db, checkoutId);
  return { receipt, replay, member: (await ledger.readMember(db, receipt.memberId))! };
}

/** The basket priced and paid by the rules, and the points the budgets allow; refusals change nothing. */
async function priceSale(deps: SaleDeps, input: PayInput): Promise<Sale> {
  const { db } = deps;
  const facts = await factsOf(deps, input);
  const { rules } = facts.program;
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
    throw asRefusal(error);
  }
  const { price, payment, earnedByCategory } = settled;
  if (price.coupon && !price.coupon.applies) throw couponErrors.COUPON_NOT_APPLICABLE(price.coupon.reason);
  const pointsEarned = (await budgetAllowance(db, rules.budgets, budgetUse(facts, 'earn', settled.pointsEarned))).allowedPoints;
  if (payment.pointsSpent > 0 && (await budgetAllowance(db, rules.budgets, budgetUse(facts, 'spend', payment.pointsSpent))).allowedPoints < payment.pointsSpent) {
    throw programErrors.BUDGET_EXCEEDED({ zh: '积分使用额度不足，本次未作任何更改', en: 'The points spending budget does not allow this many points now; nothing was changed' });
  }
  return { facts, checkoutId: newId(), price, payment, earnedByCategory, pointsEarned, pointsCutByBudget: settled.pointsEarned - pointsEarned };
}

const budgetUse = (facts: Facts, direction: BudgetUse['direction'], points: number): BudgetUse => ({
  memberId: facts.memberId,
  storeId: facts.storeId,
  direction,
  points,
  at: facts.at,
});

const movesValue = (sale: Sale) => sale.payment.storedValueFen > 0 || sale.payment.pointsSpent > 0 || sale.pointsEarned > 0;

/** The sale as one 'checkout' ledger transaction, recorded in its effects. */
async function postSale(ledger: Ledger, outbox: PayDeps['outbox'], sale: Sale, request: PayRequest): Promise<{ replay: boolean; checkoutId: string }> {
  const { facts, payment, pointsEarned } = sale;
  const { rules } = facts.program;
  const posted = await ledger.post<Split, { checkoutId: string }>({
    kind: 'checkout',
    owner: 'checkout',
    idempotencyKey: request.idempotencyKey,
    fingerprint: request.fingerprint,
    memberId: facts.memberId,
    actor: request.actor,
    reason: request.reason,
    storeId: facts.storeId,
    ...(request.cardUid === undefined ? {} : { cardUid: request.cardUid }),
    intent: { hash: request.fingerprint, payment, pointsEarned, couponId: facts.coupon?.couponId ?? null, spendingOrder: rules.spendingOrder },
    legs: (balances) => saleLegs(sale, balances),
    pointsLots: { expiresAt: pointsExpireAt(rules.pointsExpiry, facts.at) },
    effects: async (tx, { txId, context: split }) => recordSale(tx, outbox, sale, request, txId, split),
  });
  return { replay: posted.replay, checkoutId: posted.outcome.checkoutId };
}

/** The legs of a sale, and the principal/bonus split of its stored value (for the receipt). */
function saleLegs(sale: Sale, balances: LockedBalances): { legs: Leg[]; context: Split } {
  const { payment, pointsEarned, facts } = sale;
  const legs: Leg[] = [];
  let split = NO_SPLIT;
  if (payment.storedValueFen > 0) {
    const spend = storedValueSpendLegs(facts.program.rules.spendingOrder, balances, payment.storedValueFen, systemAccounts.storedValueSpent());
    split = {
      storedValuePrincipalFen: -spend.find((leg) => leg.account === 'stored_principal')!.amount,
      storedValueBonusFen: -spend.find((leg) => leg.account === 'stored_bonus')!.amount,
    };
    legs.push(...spend);
  }
  // Spent before earned: points earned by this sale cannot pay for it (the ledger applies legs in order).
  legs.push(...pointsSpendLegs(payment.pointsSpent), ...awardLegs(pointsEarned));
  return { legs, context: split };
}

/** A sale that moves no member value: recorded once per key under the member lock, without a ledger transaction. */
async function recordCashSale(
  ledger: Ledger,
  outbox: PayDeps['outbox'],
  sale: Sale,
  request: PayRequest,
  claim: IdempotentRequest,
): Promise<{ replay: boolean; checkoutId: string }> {
  // Stored like a posting's result (its outcome names the checkout), so a replay reads every sale the same way.
  const { result, replay } = await ledger.once(claim, async (tx) => {
    // The member lock a posting would take: the tier upgrade reads and writes under it.
    await lockMember(tx, sale.facts.memberId);
    return { outcome: await recordSale(tx, outbox, sale, request, null, NO_SPLIT) };
  });
  return { replay, checkoutId: result.outcome.checkoutId };
}

/**
 * Everything a sale does beyond its postings, in their transaction: the checkout row, the coupon used, the
 * points budgets used (against txId, so a refund gives them back), the qualifying spend (the tier), and the
 * purchase left for the referral program.
 */
async function recordSale(tx: Queryable, outbox: PayDeps['outbox'], sale: Sale, request: PayRequest, txId: string | null, split: Split): Promise<{ checkoutId: string }> {
  const { facts, checkoutId, price, payment, earnedByCategory, pointsEarned, pointsCutByBudget } = sale;
  const { actor, reason } = request;
  const { rules, version } = facts.program;
  await tx.query(
    `INSERT INTO checkouts (id, idempotency_key, member_id, store_id, occurred_at, rules_version, basket, pricing,
                            payment, payable_fen, points_earned, coupon_id, tx_id, actor_type, actor_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15, $16)`,
    [
      checkoutId, request.idempotencyKey, facts.memberId, facts.storeId, facts.at, version, JSON.stringify(facts.lines),
      JSON.stringify(price), JSON.stringify({ ...payment, earnedByCategory, pointsCutByBudget, ...split }), price.payableFen, pointsEarned,
      facts.coupon?.couponId ?? null, txId, actor.type, actor.id, reason,
    ],
  );
  if (facts.coupon) {
    await markCouponUsed(tx, { couponId: facts.coupon.couponId, memberId: facts.memberId, checkoutId, actor, reason: `Used in checkout ${checkoutId}` });
  }
  if (txId !== null) {
    await consumeBudget(tx, rules.budgets, budgetUse(facts, 'earn', pointsEarned), txId);
    await consumeBudget(tx, rules.budgets, budgetUse(facts, 'spend', payment.pointsSpent), txId);
  }
  // Every sale's money (stored value + cash) counts towards the tier at its instant, also a cash-only one.
  await recordQualifyingSpend(tx, { memberId: facts.memberId, checkoutId, txId, amountFen: payment.moneyFen }, { program: facts.program, at: facts.at, actor, reason });
  const purchase: ReferralPurchase = { memberId: facts.memberId, amountFen: price.payableFen, actor };
  await outbox.add(tx, PURCHASE_FOLLOW_UP, purchase);
  return { checkoutId };
}
