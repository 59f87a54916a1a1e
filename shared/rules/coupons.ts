/**
 * Coupons (优惠券): what a coupon takes off a basket, and who a targeted issue reaches.
 *
 * A template is an offer plus conditions:
 * - offer `amount_off`: a fixed amount off. With `minSpendFen` it is 满减 (满100减20 = minSpendFen 10000,
 *   amountOffFen 2000); without, 立减.
 * - offer `percent_off`: whole percent off the eligible amount, optionally capped (`maxDiscountFen`).
 * - `pointsCost` > 0 makes it a points-exchange coupon (积分兑换券): the member buys it with points when it is
 *   issued; once held it works exactly like any other coupon.
 * Conditions: tiers, stores, categories (only lines of these categories are eligible — the minimum spend is
 * checked on them alone), minimum spend, and a validity window (half-open, shared/rules/window.ts).
 *
 * Rounding: a percentage discount is floored to the fen — ⌊eligible × percent / 100⌋ in BigInt — so the chain
 * never gives away a fraction of a fen. Any discount is capped at the eligible amount: a coupon never makes
 * a basket negative.
 */
import { InvalidAmountError, formatFen, isFen } from '../money.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { instantOf, isActiveAt, parseInstant, windowProblems, type ValidityWindow } from './window.ts';

export type CouponOffer =
  | { readonly kind: 'amount_off'; readonly amountOffFen: number }
  | { readonly kind: 'percent_off'; readonly percentOff: number; readonly maxDiscountFen?: number };

export interface CouponConditions extends ValidityWindow {
  /** Tier ids that may use it; absent = every tier. */
  readonly tiers?: readonly string[];
  /** Store ids where it may be used; absent = every store. */
  readonly storeIds?: readonly string[];
  /** Only lines of these categories count (for the minimum spend and the discount); absent = the whole basket. */
  readonly categories?: readonly string[];
  /** The eligible amount (after the tier discount) must reach this; absent = no minimum. */
  readonly minSpendFen?: number;
}

export interface CouponTemplate {
  readonly nameZh: string;
  readonly nameEn: string;
  readonly offer: CouponOffer;
  readonly conditions: CouponConditions;
  /** Points the member pays to get the coupon (积分兑换券); absent or 0 = given, not bought. */
  readonly pointsCost?: number;
}

/** The part of a basket a coupon looks at: each line's amount after the tier discount. */
export interface CouponBasketLine {
  readonly category: string;
  readonly amountFen: number;
}

export interface CouponContext {
  readonly tier: string;
  readonly storeId: string;
  readonly at: Date;
}

export type CouponRefusalCode = 'not_yet_valid' | 'expired' | 'tier' | 'store' | 'no_eligible_items' | 'min_spend';

/** Why a coupon does not apply, in words a member reads at the till. */
export interface CouponRefusal {
  readonly code: CouponRefusalCode;
  readonly zh: string;
  readonly en: string;
}

export type CouponOutcome =
  | { readonly applies: true; readonly discountFen: number; readonly eligibleFen: number }
  | { readonly applies: false; readonly reason: CouponRefusal };

/** "满100减20", "满100享8.5折(最多减¥30)", "8折": a short label for receipts and lists. */
export function describeOffer(template: Pick<CouponTemplate, 'offer' | 'conditions'>): { zh: string; en: string } {
  const min = template.conditions.minSpendFen;
  const yuan = (fen: number) => formatFen(fen).replace(/\.00$/, '');
  const threshold = { zh: min ? `满${yuan(min).slice(1)}` : '', en: min ? ` on ${yuan(min)} or more` : '' };
  if (template.offer.kind === 'amount_off') {
    const off = yuan(template.offer.amountOffFen);
    return { zh: `${threshold.zh}减${off.slice(1)}`, en: `${off} off${threshold.en}` };
  }
  const { percentOff, maxDiscountFen } = template.offer;
  // Chinese names a discount by what is paid: 20% off is 8折, 15% off is 8.5折.
  const paid = 100 - percentOff;
  const zhe = `${Math.trunc(paid / 10)}${paid % 10 === 0 ? '' : `.${paid % 10}`}折`;
  const cap = maxDiscountFen === undefined ? { zh: '', en: '' } : { zh: `(最多减${yuan(maxDiscountFen)})`, en: ` (up to ${yuan(maxDiscountFen)})` };
  // 满100享8.5折: 享 keeps the threshold and the rate from reading as one number.
  return { zh: `${threshold.zh && `${threshold.zh}享`}${zhe}${cap.zh}`, en: `${percentOff}% off${threshold.en}${cap.en}` };
}

function listProblems(label: string, list: readonly string[] | undefined): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.length === 0) return [`${label}, when given, must be a non-empty list (omit it to allow all)`];
  return list.some((item) => typeof item !== 'string' || item === '') ? [`${label} must be non-empty strings`] : [];
}

/** Every problem with a template at once (an operator fixes the whole form in one pass). */
export function couponTemplateProblems(template: CouponTemplate): string[] {
  const problems: string[] = [];
  if (typeof template.nameZh !== 'string' || template.nameZh.trim() === '') problems.push('nameZh is required');
  if (typeof template.nameEn !== 'string' || template.nameEn.trim() === '') problems.push('nameEn is required');
  const offer = template.offer;
  if (offer?.kind === 'amount_off') {
    if (!isFen(offer.amountOffFen) || offer.amountOffFen <= 0) problems.push('amountOffFen must be a positive whole number of fen');
  } else if (offer?.kind === 'percent_off') {
    if (!isWholeNonNegative(offer.percentOff) || offer.percentOff < 1 || offer.percentOff > 100) {
      problems.push('percentOff must be a whole number 1–100');
    }
    if (offer.maxDiscountFen !== undefined && (!isFen(offer.maxDiscountFen) || offer.maxDiscountFen <= 0)) {
      problems.push('maxDiscountFen, when given, must be a positive whole number of fen');
    }
  } else {
    problems.push('offer.kind must be amount_off or percent_off');
  }
  const c = template.conditions ?? {};
  problems.push(...listProblems('tiers', c.tiers), ...listProblems('storeIds', c.storeIds), ...listProblems('categories', c.categories));
  if (c.minSpendFen !== undefined && (!isFen(c.minSpendFen) || c.minSpendFen <= 0)) {
    problems.push('minSpendFen, when given, must be a positive whole number of fen');
  }
  problems.push(...windowProblems('conditions', c));
  if (template.pointsCost !== undefined && (!isWholeNonNegative(template.pointsCost) || template.pointsCost > 1_000_000_000)) {
    problems.push('pointsCost, when given, must be a whole number 0–1e9');
  }
  return problems;
}

export function validateCouponTemplate(template: CouponTemplate): void {
  assertNoProblems('coupon template', couponTemplateProblems(template));
}

const refusal = (code: CouponRefusalCode, zh: string, en: string): { applies: false; reason: CouponRefusal } => ({
  applies: false,
  reason: { code, zh, en },
});

/**
 * What the coupon takes off this basket in this context, or why it does not apply. Checks run in a fixed
 * order (window, tier, store, categories, minimum spend) so the same basket always gets the same reason.
 * Validates the template first.
 */
export function couponDiscount(template: CouponTemplate, basket: readonly CouponBasketLine[], context: CouponContext): CouponOutcome {
  validateCouponTemplate(template);
  for (const line of basket) {
    if (!isFen(line.amountFen) || line.amountFen < 0) {
      throw new InvalidAmountError(`basket line amount must be a whole number of fen ≥ 0: ${String(line.amountFen)}`);
    }
  }
  const t = instantOf(context.at);
  const c = template.conditions;
  if (!isActiveAt(c, context.at)) {
    return c.validFrom !== undefined && t < parseInstant(c.validFrom)!
      ? refusal('not_yet_valid', `此券${c.validFrom}起可用`, `This coupon can be used from ${c.validFrom}`)
      : refusal('expired', '此券已过期', 'This coupon has expired');
  }
  if (c.tiers !== undefined && !c.tiers.includes(context.tier)) {
    return refusal('tier', '您的会员等级不能使用此券', 'Your membership tier cannot use this coupon');
  }
  if (c.storeIds !== undefined && !c.storeIds.includes(context.storeId)) {
    return refusal('store', '此券不能在本店使用', 'This coupon cannot be used at this store');
  }
  const eligible = c.categories === undefined ? basket : basket.filter((line) => c.categories!.includes(line.category));
  const eligibleFen = eligible.reduce((sum, line) => sum + line.amountFen, 0);
  if (eligibleFen === 0) return refusal('no_eligible_items', '没有适用此券的商品', 'No item in the basket is eligible for this coupon');
  if (c.minSpendFen !== undefined && eligibleFen < c.minSpendFen) {
    const short = formatFen(c.minSpendFen - eligibleFen);
    return refusal('min_spend', `再消费${short}可用此券`, `Spend ${short} more to use this coupon`);
  }
  const offer = template.offer;
  const raw =
    offer.kind === 'amount_off'
      ? offer.amountOffFen
      : Math.min(Number((BigInt(eligibleFen) * BigInt(offer.percentOff)) / 100n), offer.maxDiscountFen ?? Infinity);
  return { applies: true, discountFen: Math.min(raw, eligibleFen), eligibleFen };
}

/* ------------------------------------------------------------------ segments for targeted issue */

/**
 * Who a targeted issue reaches:
 * - `no_purchase_within_days`: members with no purchase in the half-open window [at − days × 24 h, at) — a
 *   purchase exactly `days` days ago still counts as within, so such a member is not "lapsed" yet. Days are
 *   24-hour periods, not calendar days: the result does not depend on a time zone.
 * - `birthday_month`: members whose birthday falls in the calendar month of `at` in the given IANA time zone
 *   (the store's), so 1 March 00:30 in Shanghai is March even though it is still February in UTC.
 */
export type CouponSegment =
  | { readonly kind: 'no_purchase_within_days'; readonly days: number }
  | { readonly kind: 'birthday_month'; readonly timeZone: string };

export interface MemberFacts {
  /** The member's last purchase, or null when they never bought anything. */
  readonly lastPurchaseAt: Date | null;
  /** "MM-DD", or null when unknown (such a member is never in a birthday segment). */
  readonly birthMonthDay: string | null;
}

const DAY_MS = 86_400_000;
const MONTH_DAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export function isMonthDay(value: unknown): value is string {
  return typeof value === 'string' && MONTH_DAY.test(value);
}

export function segmentProblems(segment: CouponSegment): string[] {
  if (segment?.kind === 'no_purchase_within_days') {
    return isWholeNonNegative(segment.days) && segment.days >= 1 && segment.days <= 3660 ? [] : ['days must be a whole number 1–3660'];
  }
  if (segment?.kind === 'birthday_month') {
    try {
      new Intl.DateTimeFormat('en', { timeZone: segment.timeZone });
      return [];
    } catch {
      return [`timeZone "${String(segment.timeZone)}" is not an IANA time zone`];
    }
  }
  return ['segment kind must be no_purchase_within_days or birthday_month'];
}

/** The calendar month (1–12) of an instant in a time zone. */
export function monthIn(at: Date, timeZone: string): number {
  return Number(new Intl.DateTimeFormat('en', { timeZone, month: 'numeric' }).format(instantOf(at)));
}

/** True when a member with these facts belongs to the segment at instant `at`. */
export function inSegment(segment: CouponSegment, facts: MemberFacts, at: Date): boolean {
  assertNoProblems('coupon segment', segmentProblems(segment));
  const t = instantOf(at);
  if (segment.kind === 'no_purchase_within_days') {
    return facts.lastPurchaseAt === null || instantOf(facts.lastPurchaseAt) < t - segment.days * DAY_MS;
  }
  if (facts.birthMonthDay === null) return false;
  if (!isMonthDay(facts.birthMonthDay)) throw new RangeError(`birthday must be MM-DD: ${String(facts.birthMonthDay)}`);
  return Number(facts.birthMonthDay.slice(0, 2)) === monthIn(at, segment.timeZone);
}
