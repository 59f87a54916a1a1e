/**
 * Points earned for a purchase.
 *
 * 1. Base points: best bracket on the amount (¥100 → 10, ¥200 → 25; highest threshold ≤ amount, no
 *    stacking). A category with its own bracket table uses it instead of the default table.
 * 2. Campaign multiplier: of the campaigns active at `at` that cover the category, the HIGHEST multiplier
 *    wins (holiday ×2 and new product ×3 on the same item give ×3, not ×6). Multipliers never compound, so
 *    overlapping promotions cannot blow the points budget. Equal multipliers: the first in the list is
 *    reported. No active campaign = ×1.
 * 3. Tier multiplier (integer percent, 150 = ×1.5).
 *
 * Rounding: one floor at the very end, points = floor(base × campaign% × tier% / 10000), computed with
 * BigInt so the product is exact. A single rounding step never gives less than rounding after each
 * multiplier would, and flooring means the program never awards a fraction it has not earned.
 */
import { InvalidAmountError, isFen } from '../money.ts';
import { bestBracket } from './brackets.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { instantOf, isActiveAt, windowProblems, type ValidityWindow } from './window.ts';

export interface PointsBracket {
  /** Purchase amount that reaches this bracket (fen, > 0). */
  readonly minAmountFen: number;
  readonly points: number;
}

export interface EarningCampaign extends ValidityWindow {
  readonly id: string;
  /** Integer percent: 200 = double points, 300 = triple. At least 100 (a campaign never reduces points). */
  readonly multiplierPercent: number;
  /** Categories covered; absent = every category. */
  readonly categories?: readonly string[];
}

export interface EarningRules {
  readonly brackets: readonly PointsBracket[];
  /** Per-category bracket tables that replace the default one for that category. */
  readonly categoryBrackets?: Readonly<Record<string, readonly PointsBracket[]>>;
  readonly campaigns?: readonly EarningCampaign[];
  /** Tier id → points multiplier percent (from the tier benefits); a tier not listed earns ×1 (100). */
  readonly tierMultiplierPercent?: Readonly<Record<string, number>>;
}

export interface Purchase {
  readonly amountFen: number;
  readonly category: string;
  readonly tier: string;
  readonly at: Date;
}

export interface EarningBreakdown {
  readonly bracketTable: 'default' | 'category';
  /** Threshold of the bracket that applied, or null when none was reached. */
  readonly bracketMinAmountFen: number | null;
  readonly basePoints: number;
  readonly campaignId: string | null;
  readonly campaignMultiplierPercent: number;
  readonly tierMultiplierPercent: number;
}

export interface EarnedPoints {
  readonly points: number;
  readonly breakdown: EarningBreakdown;
}

/** Upper bound for any multiplier percent (×100): keeps results within safe integers. */
export const MAX_MULTIPLIER_PERCENT = 10_000;

function bracketProblems(label: string, brackets: readonly PointsBracket[]): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  brackets.forEach((b, index) => {
    const at = `${label} bracket ${index}`;
    if (!isFen(b.minAmountFen) || b.minAmountFen <= 0) problems.push(`${at}: minAmountFen must be a positive whole number of fen`);
    else if (seen.has(b.minAmountFen)) problems.push(`${at}: duplicate threshold ${b.minAmountFen} fen`);
    else seen.add(b.minAmountFen);
    if (!isWholeNonNegative(b.points) || b.points > 1_000_000_000) problems.push(`${at}: points must be a whole number 0–1e9`);
  });
  return problems;
}

function multiplierOk(value: unknown): boolean {
  return isWholeNonNegative(value) && value >= 100 && value <= MAX_MULTIPLIER_PERCENT;
}

/** Rejects bad brackets (non-positive or duplicate thresholds, negative points), campaigns and multipliers. */
export function validateEarningRules(rules: EarningRules): void {
  const problems = bracketProblems('default', rules.brackets);
  for (const [category, brackets] of Object.entries(rules.categoryBrackets ?? {})) {
    problems.push(...bracketProblems(`category "${category}"`, brackets));
  }
  const ids = new Set<string>();
  (rules.campaigns ?? []).forEach((c, index) => {
    const label = `campaign ${index} (${String(c.id)})`;
    if (typeof c.id !== 'string' || c.id === '') problems.push(`${label}: id must be a non-empty string`);
    else if (ids.has(c.id)) problems.push(`${label}: duplicate id`);
    else ids.add(c.id);
    if (!multiplierOk(c.multiplierPercent)) {
      problems.push(`${label}: multiplierPercent must be a whole number 100–${MAX_MULTIPLIER_PERCENT}`);
    }
    if (c.categories !== undefined && c.categories.length === 0) {
      problems.push(`${label}: categories, when given, must not be empty (omit it to cover every category)`);
    }
    problems.push(...windowProblems(label, c));
  });
  for (const [tier, percent] of Object.entries(rules.tierMultiplierPercent ?? {})) {
    if (!isWholeNonNegative(percent) || percent === 0 || percent > MAX_MULTIPLIER_PERCENT) {
      problems.push(`tier "${tier}": multiplier percent must be a whole number 1–${MAX_MULTIPLIER_PERCENT}`);
    }
  }
  assertNoProblems('earning rules', problems);
}

/** Points for one purchase, with the breakdown a receipt or an audit shows. Validates the rules first. */
export function earnPoints(rules: EarningRules, purchase: Purchase): EarnedPoints {
  validateEarningRules(rules);
  const { amountFen, category, tier, at } = purchase;
  if (!isFen(amountFen) || amountFen < 0) {
    throw new InvalidAmountError(`purchase amount must be a whole number of fen ≥ 0: ${String(amountFen)}`);
  }
  instantOf(at);
  const own = Object.hasOwn(rules.categoryBrackets ?? {}, category) ? rules.categoryBrackets![category] : undefined;
  const table = own ?? rules.brackets;
  const bracket = bestBracket(table, (b) => b.minAmountFen, amountFen);
  const basePoints = bracket?.points ?? 0;

  let campaign: EarningCampaign | null = null;
  for (const c of rules.campaigns ?? []) {
    if (!isActiveAt(c, at)) continue;
    if (c.categories !== undefined && !c.categories.includes(category)) continue;
    if (campaign === null || c.multiplierPercent > campaign.multiplierPercent) campaign = c;
  }
  const campaignMultiplierPercent = campaign?.multiplierPercent ?? 100;
  const tierMultiplierPercent = Object.hasOwn(rules.tierMultiplierPercent ?? {}, tier)
    ? rules.tierMultiplierPercent![tier]!
    : 100;

  // BigInt division truncates toward zero; every factor is ≥ 0, so this is floor.
  const points = Number(
    (BigInt(basePoints) * BigInt(campaignMultiplierPercent) * BigInt(tierMultiplierPercent)) / 10_000n,
  );
  return {
    points,
    breakdown: {
      bracketTable: own === undefined ? 'default' : 'category',
      bracketMinAmountFen: bracket?.minAmountFen ?? null,
      basePoints,
      campaignId: campaign?.id ?? null,
      campaignMultiplierPercent,
      tierMultiplierPercent,
    },
  };
}
