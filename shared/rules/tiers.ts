/**
 * Membership tiers: 普通 Standard / 银卡 Silver / 金卡 Gold / 钻石 Diamond.
 *
 * A member's tier follows their qualifying spend (fen) within a rolling window (`spendWindowDays`, summed
 * by the caller from the ledger). Upgrade is immediate: the purchase that crosses a threshold already
 * lifts the member. Downgrade is not done here; it happens at the periodic review (later work), so
 * `upgradeOnSpend` never lowers a tier.
 */
import { InvalidAmountError, isFen } from '../money.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';

export type TierId = 'standard' | 'silver' | 'gold' | 'diamond';

export interface TierBenefits {
  /** Percent taken off the price, 0–100 (5 = 5% off, i.e. 95折). */
  readonly discountPercentOff: number;
  /** Points multiplier as an integer percent (150 = ×1.5), applied with floor rounding by earnPoints. */
  readonly pointsMultiplierPercent: number;
  /** Redemption ratio: how many points are worth ¥1 (100 = 100 points per ¥1). */
  readonly pointsPerYuan: number;
}

export interface TierDefinition {
  readonly id: TierId;
  readonly nameZh: string;
  readonly nameEn: string;
  /** Qualifying spend within the window needed for this tier (fen); the lowest tier must be 0. */
  readonly minSpendFen: number;
  readonly benefits: TierBenefits;
}

export interface TierRules {
  /** Length of the rolling spend window, in days (> 0). */
  readonly spendWindowDays: number;
  /** Ascending by minSpendFen, lowest first. */
  readonly tiers: readonly TierDefinition[];
}

/** The chain's default program; the hub may configure another one with the same shape. */
export const DEFAULT_TIER_RULES: TierRules = {
  spendWindowDays: 365,
  tiers: [
    { id: 'standard', nameZh: '普通', nameEn: 'Standard', minSpendFen: 0,
      benefits: { discountPercentOff: 0, pointsMultiplierPercent: 100, pointsPerYuan: 100 } },
    { id: 'silver', nameZh: '银卡', nameEn: 'Silver', minSpendFen: 100_000,
      benefits: { discountPercentOff: 2, pointsMultiplierPercent: 120, pointsPerYuan: 100 } },
    { id: 'gold', nameZh: '金卡', nameEn: 'Gold', minSpendFen: 500_000,
      benefits: { discountPercentOff: 5, pointsMultiplierPercent: 150, pointsPerYuan: 90 } },
    { id: 'diamond', nameZh: '钻石', nameEn: 'Diamond', minSpendFen: 2_000_000,
      benefits: { discountPercentOff: 10, pointsMultiplierPercent: 200, pointsPerYuan: 80 } },
  ],
};

/**
 * Rejects tier rules whose thresholds are not strictly ascending from 0, whose ids repeat, or whose
 * benefits are out of range (discount 0–100, multiplier and ratio positive integers).
 */
export function validateTierRules(rules: TierRules): void {
  const problems: string[] = [];
  if (!isWholeNonNegative(rules.spendWindowDays) || rules.spendWindowDays === 0) {
    problems.push('spendWindowDays must be a positive whole number');
  }
  if (rules.tiers.length === 0) problems.push('at least one tier is needed');
  const ids = new Set<string>();
  rules.tiers.forEach((tier, index) => {
    const label = `tier ${index} (${String(tier.id)})`;
    if (ids.has(tier.id)) problems.push(`${label}: duplicate id`);
    ids.add(tier.id);
    if (!tier.nameZh || !tier.nameEn) problems.push(`${label}: needs both a Chinese and an English name`);
    if (!isFen(tier.minSpendFen) || tier.minSpendFen < 0) problems.push(`${label}: minSpendFen must be whole fen ≥ 0`);
    if (index === 0 && tier.minSpendFen !== 0) problems.push(`${label}: the lowest tier must start at 0 fen`);
    const previous = rules.tiers[index - 1];
    if (previous !== undefined && !(tier.minSpendFen > previous.minSpendFen)) {
      problems.push(`${label}: minSpendFen must be greater than the tier below`);
    }
    const b = tier.benefits;
    if (!isWholeNonNegative(b.discountPercentOff) || b.discountPercentOff > 100) {
      problems.push(`${label}: discountPercentOff must be a whole number 0–100`);
    }
    if (!isWholeNonNegative(b.pointsMultiplierPercent) || b.pointsMultiplierPercent === 0) {
      problems.push(`${label}: pointsMultiplierPercent must be a positive whole number`);
    }
    if (!isWholeNonNegative(b.pointsPerYuan) || b.pointsPerYuan === 0) {
      problems.push(`${label}: pointsPerYuan must be a positive whole number`);
    }
  });
  assertNoProblems('tier rules', problems);
}

/**
 * A qualifying spend is a sum over a window of many transactions: it may exceed what one transaction may move
 * (MAX_AMOUNT_FEN), so only its being whole, non-negative and exactly representable is checked.
 */
function checkSpend(spendFen: number): void {
  if (!Number.isSafeInteger(spendFen) || spendFen < 0) {
    throw new InvalidAmountError(`spend must be a whole number of fen ≥ 0: ${String(spendFen)}`);
  }
}

/** The tier a spend qualifies for: the highest tier whose threshold the spend reaches. */
export function tierFor(spendFen: number, rules: TierRules = DEFAULT_TIER_RULES): TierDefinition {
  validateTierRules(rules);
  checkSpend(spendFen);
  let result = rules.tiers[0]!;
  for (const tier of rules.tiers) if (tier.minSpendFen <= spendFen) result = tier;
  return result;
}

/** The definition of a tier by id; throws if the rules do not define it. */
export function tierById(id: TierId, rules: TierRules = DEFAULT_TIER_RULES): TierDefinition {
  const tier = rules.tiers.find((t) => t.id === id);
  if (tier === undefined) throw new RangeError(`unknown tier: ${String(id)}`);
  return tier;
}

/**
 * Immediate upgrade after a purchase: the higher of the current tier and the tier the new window spend
 * qualifies for. Never lower — downgrades wait for the review (with its retention window).
 */
export function upgradeOnSpend(current: TierId, spendFen: number, rules: TierRules = DEFAULT_TIER_RULES): TierDefinition {
  const earned = tierFor(spendFen, rules);
  const held = tierById(current, rules);
  return earned.minSpendFen > held.minSpendFen ? earned : held;
}

/** "Spend ¥X more to reach Gold": the next tier above the spend and the fen still missing; null at the top. */
export function progressToNext(
  spendFen: number,
  rules: TierRules = DEFAULT_TIER_RULES,
): { readonly nextTier: TierDefinition; readonly remainingFen: number } | null {
  validateTierRules(rules);
  checkSpend(spendFen);
  const next = rules.tiers.find((tier) => tier.minSpendFen > spendFen);
  return next === undefined ? null : { nextTier: next, remainingFen: next.minSpendFen - spendFen };
}

/** Tier id → points multiplier percent, the shape `EarningRules.tierMultiplierPercent` takes. */
export function pointsMultipliersByTier(rules: TierRules = DEFAULT_TIER_RULES): Record<string, number> {
  validateTierRules(rules);
  return Object.fromEntries(rules.tiers.map((t) => [t.id, t.benefits.pointsMultiplierPercent]));
}
