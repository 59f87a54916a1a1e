/**
 * The whole membership program as one versioned value: the hub publishes it (cloud/program/rules-store.ts),
 * kiosks receive it, and a device transaction names the version it was evaluated with, so hub and kiosk run
 * the same pure functions on the same rules. Plain JSON: no Dates, no functions.
 */
import { budgetRuleProblems, type BudgetRules } from './budget.ts';
import { type CardFeeSchedule, cardFeeScheduleProblems, DEFAULT_CARD_FEE_SCHEDULE } from './cards.ts';
import { checkInRuleProblems, type CheckInRules } from './check-in.ts';
import { type EarningRules, validateEarningRules } from './earning.ts';
import { assertNoProblems, RuleSetError } from './errors.ts';
import { type PointsExpiryPolicy, validatePointsExpiryPolicy } from './points-expiry.ts';
import { referralRuleProblems, type ReferralRules } from './referral.ts';
import { isSpendingOrder, type SpendingOrder } from './stored-value.ts';
import { tierReviewProblems, type TierReviewPolicy } from './tier-review.ts';
import { DEFAULT_TIER_RULES, pointsMultipliersByTier, type TierRules, validateTierRules } from './tiers.ts';
import { type TopUpBonusRule, validateTopUpRules } from './topup-bonus.ts';

export interface ProgramRules {
  readonly tiers: TierRules;
  readonly tierReview: TierReviewPolicy;
  readonly earning: EarningRules;
  readonly topUpBonus: readonly TopUpBonusRule[];
  readonly spendingOrder: SpendingOrder;
  readonly pointsExpiry: PointsExpiryPolicy;
  readonly budgets: BudgetRules;
  readonly checkIn: CheckInRules;
  readonly referral: ReferralRules;
  /**
   * Joining, annual and replacement fees by card type. Rule sets published before card fees were part of
   * the program have none, and mean DEFAULT_CARD_FEE_SCHEDULE: read it with programCardFees.
   */
  readonly cardFees?: CardFeeSchedule;
}

const CHAIN_ZONE = 'Asia/Shanghai';

/** The chain's starting program: 充100送20 / 充200送50 / 充300送100, ¥100 → 10 points, ¥200 → 25 points. */
export const DEFAULT_PROGRAM_RULES: ProgramRules = {
  tiers: DEFAULT_TIER_RULES,
  tierReview: { retentionDays: 365, downgrade: 'one_step', warningDays: 30, timeZone: CHAIN_ZONE },
  earning: {
    brackets: [
      { minAmountFen: 10_000, points: 10 },
      { minAmountFen: 20_000, points: 25 },
    ],
    tierMultiplierPercent: pointsMultipliersByTier(DEFAULT_TIER_RULES),
  },
  topUpBonus: [
    { id: 'topup-100', thresholdFen: 10_000, bonusFen: 2_000 },
    { id: 'topup-200', thresholdFen: 20_000, bonusFen: 5_000 },
    { id: 'topup-300', thresholdFen: 30_000, bonusFen: 10_000 },
  ],
  spendingOrder: 'principal_first',
  pointsExpiry: { kind: 'end_of_year', timeZone: CHAIN_ZONE },
  budgets: {
    timeZone: CHAIN_ZONE,
    caps: [
      { scope: 'member', direction: 'earn', period: 'day', limitPoints: 5_000 },
      { scope: 'store', direction: 'earn', period: 'month', limitPoints: 2_000_000 },
    ],
    alertPercents: [80, 100],
  },
  checkIn: { enabled: true, points: 5, timeZone: CHAIN_ZONE, streakBonus: { everyDays: 7, bonusPoints: 20 } },
  referral: { enabled: true, trigger: 'first_purchase', referrerPoints: 100, refereePoints: 50 },
  cardFees: DEFAULT_CARD_FEE_SCHEDULE,
};

export const PROGRAM_SECTIONS = [
  'tiers', 'tierReview', 'earning', 'topUpBonus', 'spendingOrder', 'pointsExpiry', 'budgets', 'checkIn', 'referral', 'cardFees',
] as const satisfies readonly (keyof ProgramRules)[];

/**
 * Sections added after rule sets were first published: a rule set without one (an older version on the hub,
 * a kiosk's stored copy) is still valid and means that section's default. Present, it is checked in full.
 */
const OPTIONAL_SECTIONS: ReadonlySet<string> = new Set(['cardFees'] satisfies (typeof PROGRAM_SECTIONS)[number][]);

/** The card fee schedule of a rule set: its own, or the default one for a rule set published without. */
export function programCardFees(rules: ProgramRules): CardFeeSchedule {
  return rules.cardFees ?? DEFAULT_CARD_FEE_SCHEDULE;
}

/** Problems of one section; the section validators that throw are turned into lists here. */
function sectionProblems(run: () => string[] | void): string[] {
  try {
    return run() ?? [];
  } catch (error) {
    if (error instanceof RuleSetError) return [...error.problems];
    // A section of the wrong shape (a list where an object belongs, …) makes a validator trip over it.
    return [`malformed (${(error as Error).message})`];
  }
}

/**
 * Every problem of a rule set, each prefixed by its section ("tiers: …", "budgets: cap 0: …"); empty when
 * it is valid. Accepts any JSON (a PUT body), so every section is checked to be present first.
 */
export function programRuleProblems(rules: unknown): string[] {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) return ['rules must be an object'];
  const r = rules as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(r)) {
    if (!(PROGRAM_SECTIONS as readonly string[]).includes(key)) problems.push(`${key}: unknown section`);
  }
  const checks: Record<(typeof PROGRAM_SECTIONS)[number], () => string[] | void> = {
    tiers: () => validateTierRules(r.tiers as TierRules),
    tierReview: () => tierReviewProblems(r.tierReview as TierReviewPolicy),
    earning: () => validateEarningRules(r.earning as EarningRules),
    topUpBonus: () => (Array.isArray(r.topUpBonus) ? validateTopUpRules(r.topUpBonus) : ['must be a list']),
    spendingOrder: () => (isSpendingOrder(r.spendingOrder) ? [] : ['must be principal_first, bonus_first or proportional']),
    pointsExpiry: () => validatePointsExpiryPolicy(r.pointsExpiry as PointsExpiryPolicy),
    budgets: () => budgetRuleProblems(r.budgets as BudgetRules),
    checkIn: () => checkInRuleProblems(r.checkIn as CheckInRules),
    referral: () => referralRuleProblems(r.referral as ReferralRules),
    cardFees: () => cardFeeScheduleProblems(r.cardFees),
  };
  for (const section of PROGRAM_SECTIONS) {
    const value = r[section];
    const optional = OPTIONAL_SECTIONS.has(section);
    if (value === undefined && optional) continue;
    if (value === null && optional) problems.push(`${section}: must be an object, or left out for the default`);
    else if (value === undefined || value === null) problems.push(`${section}: missing`);
    else if (section !== 'spendingOrder' && typeof value !== 'object') problems.push(`${section}: must be an object`);
    else problems.push(...sectionProblems(checks[section]).map((p) => `${section}: ${p}`));
  }
  // Cross-section: the earning multipliers must name tiers the program has.
  if (problems.length === 0) {
    const tierIds = new Set((r.tiers as TierRules).tiers.map((t) => t.id as string));
    for (const tier of Object.keys((r.earning as EarningRules).tierMultiplierPercent ?? {})) {
      if (!tierIds.has(tier)) problems.push(`earning: tierMultiplierPercent names tier "${tier}" which tiers does not define`);
    }
  }
  return problems;
}

/** Throws a RuleSetError listing every problem. */
export function validateProgramRules(rules: unknown): asserts rules is ProgramRules {
  assertNoProblems('program rules', programRuleProblems(rules));
}
