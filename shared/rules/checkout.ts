/**
 * Pricing and paying a POS basket for a member (结账). Kiosk and hub call the same functions.
 *
 * Order of discounts — tier first, then at most one coupon:
 *  1. Tier discount (TierBenefits.discountPercentOff) per line, floored to the fen:
 *     tierDiscount = ⌊gross × percent / 100⌋. Flooring per line means the chain never gives away a fraction.
 *  2. The coupon (shared/rules/coupons.ts) sees the lines AFTER the tier discount: its minimum spend is
 *     checked on what the member would actually pay, so a 满100减20 coupon never applies to goods that cost
 *     less than ¥100 after the member's tier discount. Its discount is spread over the eligible lines in
 *     proportion to their amounts (largest remainder), so every line knows its own net — needed for points
 *     per category and for refunds.
 *
 * Paying: the payable amount is split into points, stored value and cash, in any combination that sums
 * exactly to it. The points part is given in fen; the points taken are ⌈fen × pointsPerYuan / 100⌉ (tier
 * ratio, 100 points = ¥1 for Standard), rounded UP so the chain never sells a fen for less than its points.
 *
 * Earning: points are earned only on money actually paid (stored value + cash), never on the part paid with
 * points. That money is spread over the categories in proportion to their net amounts and each category earns
 * with earnPoints (its own bracket table and campaign, if any) — a mixed basket earns per category.
 */
import { InvalidAmountError, MAX_AMOUNT_FEN, isFen } from '../money.ts';
import { couponDiscount, type CouponContext, type CouponOutcome, type CouponTemplate } from './coupons.ts';
import { earnPoints, type EarningRules } from './earning.ts';
import { pointsForFen } from './points-value.ts';
import { tierById, type TierId, type TierRules } from './tiers.ts';

export interface CheckoutLine {
  readonly sku: string;
  readonly category: string;
  readonly unitPriceFen: number;
  readonly quantity: number;
}

export interface PricedLine extends CheckoutLine {
  /** unitPriceFen × quantity. */
  readonly grossFen: number;
  readonly tierDiscountFen: number;
  readonly couponDiscountFen: number;
  /** What the member pays for this line: gross − tier discount − coupon share. */
  readonly netFen: number;
}

export interface BasketPrice {
  readonly lines: readonly PricedLine[];
  readonly subtotalFen: number;
  readonly tierDiscountFen: number;
  readonly couponDiscountFen: number;
  /** tierDiscountFen + couponDiscountFen; never more than the subtotal. */
  readonly discountFen: number;
  readonly payableFen: number;
  /** null when no coupon was offered; otherwise whether (and how much) it applied, or why not. */
  readonly coupon: CouponOutcome | null;
}

/** How the member pays, in fen per tender; absent parts are 0. */
export interface Tenders {
  readonly pointsFen?: number;
  readonly storedValueFen?: number;
  readonly cashFen?: number;
}

export interface PaymentPlan {
  readonly pointsFen: number;
  /** Points taken for pointsFen at the tier's ratio (rounded up). */
  readonly pointsSpent: number;
  readonly storedValueFen: number;
  readonly cashFen: number;
  /** storedValueFen + cashFen: the amount points are earned on. */
  readonly moneyFen: number;
}

export interface CategoryEarning {
  readonly category: string;
  /** The share of the money paid that falls on this category. */
  readonly moneyFen: number;
  readonly points: number;
}

export interface CheckoutRules {
  readonly tiers: TierRules;
  readonly earning: EarningRules;
}

export interface CheckoutInput {
  readonly lines: readonly CheckoutLine[];
  readonly tier: TierId;
  readonly storeId: string;
  /** When the sale happens: coupon windows and earning campaigns are judged at this instant. */
  readonly at: Date;
  readonly coupon?: CouponTemplate;
  readonly tenders: Tenders;
}

export interface CheckoutResult {
  readonly price: BasketPrice;
  readonly payment: PaymentPlan;
  readonly pointsEarned: number;
  readonly earnedByCategory: readonly CategoryEarning[];
}

/** A basket or payment the rules cannot price; says what is wrong. */
export class CheckoutInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckoutInputError';
  }
}

export const MAX_LINES = 200;
export const MAX_QUANTITY = 9_999;

function assertLines(lines: readonly CheckoutLine[]): void {
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > MAX_LINES) {
    throw new CheckoutInputError(`a basket needs 1 to ${MAX_LINES} lines`);
  }
  lines.forEach((line, index) => {
    if (typeof line.sku !== 'string' || line.sku === '') throw new CheckoutInputError(`line ${index}: sku is required`);
    if (typeof line.category !== 'string' || line.category === '') throw new CheckoutInputError(`line ${index}: category is required`);
    if (!isFen(line.unitPriceFen) || line.unitPriceFen < 0) {
      throw new InvalidAmountError(`line ${index}: unitPriceFen must be a whole number of fen ≥ 0`);
    }
    if (!Number.isSafeInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw new CheckoutInputError(`line ${index}: quantity must be a whole number 1–${MAX_QUANTITY}`);
    }
  });
}

/**
 * Splits `total` into integer parts proportional to `weights` (largest remainder; ties go to the earlier
 * weight). The parts always sum to `total` and a zero weight always gets 0. Exact in BigInt.
 */
export function allocate(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (total === 0 || sum === 0) return weights.map(() => 0);
  const shares = weights.map((w, index) => {
    const exact = BigInt(total) * BigInt(w);
    return { index, floor: Number(exact / BigInt(sum)), remainder: exact % BigInt(sum) };
  });
  let left = total - shares.reduce((a, s) => a + s.floor, 0);
  const byRemainder = [...shares].sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const share of byRemainder) {
    if (left === 0) break;
    share.floor += 1;
    left -= 1;
  }
  return shares.map((s) => s.floor);
}

/** Prices the basket: tier discount per line, then the coupon on the discounted lines. */
export function priceBasket(
  rules: TierRules,
  input: Pick<CheckoutInput, 'lines' | 'tier' | 'storeId' | 'at' | 'coupon'>,
): BasketPrice {
  assertLines(input.lines);
  const percent = tierById(input.tier, rules).benefits.discountPercentOff;
  const afterTier = input.lines.map((line) => {
    const grossFen = line.unitPriceFen * line.quantity;
    if (!isFen(grossFen)) throw new InvalidAmountError(`line ${line.sku}: amount exceeds ${MAX_AMOUNT_FEN} fen`);
    // Floor: the member gets ⌊gross × percent / 100⌋ off this line.
    const tierDiscountFen = Number((BigInt(grossFen) * BigInt(percent)) / 100n);
    return { ...line, grossFen, tierDiscountFen, amountFen: grossFen - tierDiscountFen };
  });
  const subtotalFen = afterTier.reduce((sum, line) => sum + line.grossFen, 0);
  if (!isFen(subtotalFen)) throw new InvalidAmountError(`basket total exceeds ${MAX_AMOUNT_FEN} fen`);

  const context: CouponContext = { tier: input.tier, storeId: input.storeId, at: input.at };
  const coupon = input.coupon === undefined ? null : couponDiscount(input.coupon, afterTier, context);
  const couponShares = new Array<number>(afterTier.length).fill(0);
  if (coupon?.applies) {
    const categories = input.coupon!.conditions.categories;
    const eligible = afterTier.map((line) => (categories === undefined || categories.includes(line.category) ? line.amountFen : 0));
    allocate(coupon.discountFen, eligible).forEach((share, index) => (couponShares[index] = share));
  }
  const lines: PricedLine[] = afterTier.map(({ amountFen, ...line }, index) => ({
    ...line,
    couponDiscountFen: couponShares[index]!,
    netFen: amountFen - couponShares[index]!,
  }));
  const tierDiscountFen = lines.reduce((sum, line) => sum + line.tierDiscountFen, 0);
  const couponDiscountFen = coupon?.applies ? coupon.discountFen : 0;
  const discountFen = tierDiscountFen + couponDiscountFen;
  return { lines, subtotalFen, tierDiscountFen, couponDiscountFen, discountFen, payableFen: subtotalFen - discountFen, coupon };
}

/** Checks the tenders sum exactly to the payable amount and converts the points part at the tier's ratio. */
export function planPayment(payableFen: number, tenders: Tenders, pointsPerYuan: number): PaymentPlan {
  const part = (name: keyof Tenders): number => {
    const value = tenders[name] ?? 0;
    if (!isFen(value) || value < 0) throw new InvalidAmountError(`${name} must be a whole number of fen ≥ 0: ${String(value)}`);
    return value;
  };
  const pointsFen = part('pointsFen');
  const storedValueFen = part('storedValueFen');
  const cashFen = part('cashFen');
  const total = pointsFen + storedValueFen + cashFen;
  if (total !== payableFen) {
    throw new CheckoutInputError(`the payment parts sum to ${total} fen but ${payableFen} fen is payable`);
  }
  return { pointsFen, pointsSpent: pointsForFen(pointsFen, pointsPerYuan), storedValueFen, cashFen, moneyFen: storedValueFen + cashFen };
}

/** Points earned on the money paid, spread over the basket's categories (see the header). */
export function earnOnMoney(
  earning: EarningRules,
  price: BasketPrice,
  moneyFen: number,
  tier: TierId,
  at: Date,
): { points: number; byCategory: CategoryEarning[] } {
  const categories = [...new Set(price.lines.map((line) => line.category))];
  const nets = categories.map((category) =>
    price.lines.filter((line) => line.category === category).reduce((sum, line) => sum + line.netFen, 0),
  );
  const shares = allocate(moneyFen, nets);
  const byCategory = categories.map((category, index) => ({
    category,
    moneyFen: shares[index]!,
    points: earnPoints(earning, { amountFen: shares[index]!, category, tier, at }).points,
  }));
  return { points: byCategory.reduce((sum, c) => sum + c.points, 0), byCategory };
}

/** The whole checkout: price, payment plan and points earned. Throws when the basket or tenders are invalid. */
export function settleCheckout(rules: CheckoutRules, input: CheckoutInput): CheckoutResult {
  const price = priceBasket(rules.tiers, input);
  const payment = planPayment(price.payableFen, input.tenders, tierById(input.tier, rules.tiers).benefits.pointsPerYuan);
  const earned = earnOnMoney(rules.earning, price, payment.moneyFen, input.tier, input.at);
  return { price, payment, pointsEarned: earned.points, earnedByCategory: earned.byCategory };
}
