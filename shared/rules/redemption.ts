/**
 * The redemption catalog (积分兑换): what a member may take for points, at what price, how often.
 *
 * Pure: the kiosk uses it to show what a member can redeem and why not; the hub runs the same check again
 * inside the redemption's database transaction, with stock and the member's count read under lock.
 *
 * Price: a fixed number of points, or an item value in fen converted with the member's tier ratio
 * (TierBenefits.pointsPerYuan, rounded up by pointsForFen: at 100 points per ¥1 a ¥10 coupon costs 1000
 * points, a Gold member at 90 pays 900). Either may add a cash part in fen. The cash part is paid from the member's stored value
 * in the same ledger transaction as the points — not at a counter — so a kiosk can sell points + cash
 * without a till, the whole redemption is one atomic posting, and refunding it returns both.
 *
 * Per-member limit: at most `count` redemptions of the item per calendar day / month / year (or ever) in
 * the store's IANA time zone. The hub keeps the period key (e.g. "2026-11") on each voucher and counts the
 * member's live vouchers with that key.
 */
import { isUuid } from '../ids.ts';
import { formatFen, isFen } from '../money.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { localDateOf } from './points-expiry.ts';
import { pointsForFen } from './points-value.ts';
import { DEFAULT_TIER_RULES, type TierRules } from './tiers.ts';
import { instantOf, isActiveAt, parseInstant, windowProblems, type ValidityWindow } from './window.ts';

export const CATALOG_ITEM_KINDS = ['goods', 'service', 'coupon', 'gift_card'] as const;
/**
 * What the member gets. 'coupon' with a couponTemplateId issues that coupon (used at checkout by its code, no
 * voucher); every other kind issues a voucher exchanged at the counter. The kind does not change the rules below.
 */
export type CatalogItemKind = (typeof CATALOG_ITEM_KINDS)[number];

export const LIMIT_PERIODS = ['day', 'month', 'year', 'lifetime'] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];

export type RedemptionPrice =
  /** The same number of points for every tier. */
  | { readonly kind: 'points'; readonly points: number; readonly cashFen?: number }
  /** Points = the value in fen at the member's tier ratio, rounded up (see pointsForValue). */
  | { readonly kind: 'value'; readonly valueFen: number; readonly cashFen?: number };

export interface MemberLimit {
  /** Redemptions allowed per period, ≥ 1. */
  readonly count: number;
  readonly period: LimitPeriod;
}

export interface CatalogItemRules extends ValidityWindow {
  readonly id: string;
  readonly kind: CatalogItemKind;
  readonly nameZh: string;
  readonly nameEn: string;
  readonly price: RedemptionPrice;
  /** Tier ids allowed to redeem; absent or empty = every tier. */
  readonly allowedTiers?: readonly string[];
  readonly memberLimit?: MemberLimit;
  /**
   * Kind 'coupon' only: the coupon template redeeming issues (the hub requires it for a new or edited coupon
   * item and checks the template is active). The coupon's own validity comes from the template.
   */
  readonly couponTemplateId?: string;
  /** A voucher is valid this many days (× 24 h) after it is issued, and never past validUntil. */
  readonly voucherValidDays: number;
  /** A manager can take an item off the catalog without deleting its history. */
  readonly active: boolean;
}

/** What a redemption check knows about the member; balances left out are not checked (the ledger still is). */
export interface MemberRedemptionFacts {
  readonly tier: string;
  /** This member's live (not refunded) redemptions of this item in the period containing the instant. */
  readonly redeemedInPeriod: number;
  readonly points?: number;
  /** Stored value that may pay the cash part. */
  readonly storedValueFen?: number;
}

export interface RedemptionContext {
  readonly at: Date;
  /** IANA zone of the store where the member redeems, e.g. Asia/Shanghai. */
  readonly timeZone: string;
  /** Units left for this redemption (the smaller of global and store stock), null = unlimited. */
  readonly stockLeft: number | null;
  readonly tiers?: TierRules;
}

export type RefusalReason =
  | 'inactive'
  | 'not_yet_open'
  | 'closed'
  | 'tier_not_allowed'
  | 'limit_reached'
  | 'out_of_stock'
  | 'insufficient_points'
  | 'insufficient_stored_value';

export interface RedemptionPriceFor {
  readonly points: number;
  readonly cashFen: number;
}

export type RedemptionCheck =
  | { readonly ok: true; readonly price: RedemptionPriceFor; readonly periodKey: string; readonly voucherExpiresAt: Date }
  | { readonly ok: false; readonly reason: RefusalReason; readonly messageZh: string; readonly messageEn: string };

const MAX_POINTS = 1_000_000_000;
const MAX_VOUCHER_DAYS = 3_660;
const DAY_MS = 86_400_000;

/** Every problem with an item definition at once (RuleSetError), so an operator can fix the whole form. */
export function validateCatalogItem(item: CatalogItemRules, tiers: TierRules = DEFAULT_TIER_RULES): void {
  const problems: string[] = [];
  if (typeof item.id !== 'string' || item.id === '') problems.push('id must be a non-empty string');
  if (!CATALOG_ITEM_KINDS.includes(item.kind)) problems.push(`kind must be one of ${CATALOG_ITEM_KINDS.join(', ')}`);
  for (const field of ['nameZh', 'nameEn'] as const) {
    const name = item[field];
    if (typeof name !== 'string' || name.trim() === '' || name.length > 64) problems.push(`${field} must be 1 to 64 characters`);
  }
  problems.push(...priceProblems(item.price));
  if (item.couponTemplateId !== undefined) {
    if (item.kind !== 'coupon') problems.push('couponTemplateId is only for items of kind coupon');
    else if (!isUuid(item.couponTemplateId)) problems.push('couponTemplateId must be a coupon template id (UUID)');
  }
  const tierIds = new Set(tiers.tiers.map((tier) => tier.id as string));
  for (const tier of item.allowedTiers ?? []) if (!tierIds.has(tier)) problems.push(`allowedTiers: unknown tier "${tier}"`);
  if (item.memberLimit !== undefined) {
    const { count, period } = item.memberLimit;
    if (!isWholeNonNegative(count) || count < 1) problems.push('memberLimit.count must be a whole number ≥ 1');
    if (!LIMIT_PERIODS.includes(period)) problems.push(`memberLimit.period must be one of ${LIMIT_PERIODS.join(', ')}`);
  }
  if (!isWholeNonNegative(item.voucherValidDays) || item.voucherValidDays < 1 || item.voucherValidDays > MAX_VOUCHER_DAYS) {
    problems.push(`voucherValidDays must be a whole number from 1 to ${MAX_VOUCHER_DAYS}`);
  }
  if (typeof item.active !== 'boolean') problems.push('active must be true or false');
  problems.push(...windowProblems('window', item));
  assertNoProblems('catalog item', problems);
}

function priceProblems(price: RedemptionPrice): string[] {
  const problems: string[] = [];
  const cashFen = price?.cashFen ?? 0;
  if (!isFen(cashFen) || cashFen < 0) problems.push('price.cashFen must be a whole number of fen ≥ 0');
  if (price?.kind === 'points') {
    if (!isWholeNonNegative(price.points) || price.points < 1 || price.points > MAX_POINTS) {
      problems.push(`price.points must be a whole number from 1 to ${MAX_POINTS}`);
    }
  } else if (price?.kind === 'value') {
    if (!isFen(price.valueFen) || price.valueFen < 1) problems.push('price.valueFen must be a whole number of fen ≥ 1');
  } else {
    problems.push('price.kind must be "points" or "value"');
  }
  return problems;
}

/** The points and cash a member of `tier` pays for the item. */
export function priceFor(item: CatalogItemRules, tier: string, tiers: TierRules = DEFAULT_TIER_RULES): RedemptionPriceFor {
  const cashFen = item.price.cashFen ?? 0;
  if (item.price.kind === 'points') return { points: item.price.points, cashFen };
  const definition = tiers.tiers.find((t) => t.id === tier);
  if (definition === undefined) throw new RangeError(`unknown tier: ${tier}`);
  // Rounded up to a whole point: the member never gets a fraction of a point's worth for free.
  return { points: pointsForFen(item.price.valueFen, definition.benefits.pointsPerYuan), cashFen };
}

/**
 * The limit period an instant falls in, as a key: "2026-11-23" (day), "2026-11" (month), "2026" (year) or
 * "lifetime". Two redemptions count against the same limit exactly when their keys are equal.
 * Throws a RangeError on an unknown time zone (Intl's own check).
 */
export function limitPeriodKey(period: LimitPeriod, at: Date, timeZone: string): string {
  instantOf(at);
  if (period === 'lifetime') return 'lifetime';
  const { year, month, day } = localDateOf(at, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  if (period === 'year') return String(year);
  if (period === 'month') return `${year}-${two(month)}`;
  return `${year}-${two(month)}-${two(day)}`;
}

/** When a voucher issued at `at` stops being valid: voucherValidDays later, or the item's end if sooner. */
export function voucherExpiry(item: CatalogItemRules, at: Date): Date {
  const byDays = instantOf(at) + item.voucherValidDays * DAY_MS;
  const until = item.validUntil === undefined ? Infinity : (parseInstant(item.validUntil) ?? Infinity);
  return new Date(Math.min(byDays, until));
}

const PERIOD_WORDS: Record<LimitPeriod, [zh: string, en: string]> = {
  day: ['每天', 'per day'],
  month: ['每月', 'per month'],
  year: ['每年', 'per year'],
  lifetime: ['每人', 'per member'],
};

function refuse(reason: RefusalReason, messageZh: string, messageEn: string): RedemptionCheck {
  return { ok: false, reason, messageZh, messageEn };
}

/**
 * May this member redeem this item now? Checks in the order a member would want to hear them: is the item on
 * offer at all, for their tier, within their limit, in stock, and can they pay. Validates the item first.
 */
export function checkRedemption(item: CatalogItemRules, member: MemberRedemptionFacts, context: RedemptionContext): RedemptionCheck {
  const tiers = context.tiers ?? DEFAULT_TIER_RULES;
  validateCatalogItem(item, tiers);
  const { at, timeZone } = context;
  const name = { zh: item.nameZh, en: item.nameEn };
  if (!item.active) return refuse('inactive', `「${name.zh}」已下架`, `"${name.en}" is no longer offered`);
  if (!isActiveAt(item, at)) {
    const early = item.validFrom !== undefined && instantOf(at) < parseInstant(item.validFrom)!;
    return early
      ? refuse('not_yet_open', `「${name.zh}」尚未开放兑换`, `"${name.en}" cannot be redeemed yet`)
      : refuse('closed', `「${name.zh}」兑换已结束`, `Redemption of "${name.en}" has ended`);
  }
  const allowed = item.allowedTiers ?? [];
  if (allowed.length > 0 && !allowed.includes(member.tier)) {
    const names = tiers.tiers.filter((t) => allowed.includes(t.id));
    return refuse(
      'tier_not_allowed',
      `「${name.zh}」仅限${names.map((t) => t.nameZh).join('、')}会员兑换`,
      `"${name.en}" is for ${names.map((t) => t.nameEn).join(', ')} members only`,
    );
  }
  const periodKey = limitPeriodKey(item.memberLimit?.period ?? 'lifetime', at, timeZone);
  if (item.memberLimit !== undefined && member.redeemedInPeriod >= item.memberLimit.count) {
    const [zh, en] = PERIOD_WORDS[item.memberLimit.period];
    const { count } = item.memberLimit;
    return refuse(
      'limit_reached',
      `「${name.zh}」${zh}限兑${count}次，您已兑满`,
      `"${name.en}" is limited to ${count} ${en}; you have reached it`,
    );
  }
  if (context.stockLeft !== null && context.stockLeft < 1) {
    return refuse('out_of_stock', `「${name.zh}」已兑完`, `"${name.en}" is out of stock`);
  }
  const price = priceFor(item, member.tier, tiers);
  if (member.points !== undefined && member.points < price.points) {
    return refuse(
      'insufficient_points',
      `积分不足：需要${price.points}积分，您有${member.points}积分`,
      `Not enough points: ${price.points} needed, you have ${member.points}`,
    );
  }
  if (price.cashFen > 0 && member.storedValueFen !== undefined && member.storedValueFen < price.cashFen) {
    return refuse(
      'insufficient_stored_value',
      `储值余额不足：需要${formatFen(price.cashFen)}`,
      `Not enough stored value: ${formatFen(price.cashFen)} needed`,
    );
  }
  return { ok: true, price, periodKey, voucherExpiresAt: voucherExpiry(item, at) };
}
