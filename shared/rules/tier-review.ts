/**
 * Periodic tier review (保级 / downgrade), progress and warnings.
 *
 * Upgrades are immediate (tiers.ts `upgradeOnSpend`). Downgrades only happen at a review:
 * - a member whose window spend still reaches their tier keeps it, and the review confirms it (`since`
 *   restarts, so the retention window runs again from this review);
 * - a member below their tier keeps it anyway while the retention window since the upgrade or the last
 *   confirmation is running (`retentionDays`, e.g. 365: a tier is held at least a year);
 * - after that the tier drops. `downgrade: 'one_step'` (default) drops one tier per review — Diamond →
 *   Gold even when the spend only qualifies for Standard — which softens a bad year; `'to_qualifying'`
 *   drops straight to the tier the spend qualifies for. Either way never below the qualifying tier.
 * Warnings tell members below their tier how much more spend keeps it, and by when (the retention end).
 * Retention is counted in 24-hour days from an instant, so it is the same on every device whatever its zone;
 * only the date shown to the member is rendered in the store's zone.
 */
import { formatFen } from '../money.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { isTimeZone, localDateOf } from './points-expiry.ts';
import { progressToNext, tierById, tierFor, validateTierRules, type TierDefinition, type TierId, type TierRules } from './tiers.ts';
import { instantOf } from './window.ts';

export interface TierReviewPolicy {
  /** Days a tier is held after it was reached or confirmed, whatever the spend (whole, 0–3660). */
  readonly retentionDays: number;
  readonly downgrade: 'one_step' | 'to_qualifying';
  /** Warn members this many days before the retention ends (whole, 0–3660). */
  readonly warningDays: number;
  /** Zone in which warning dates are shown. */
  readonly timeZone: string;
}

export interface MemberTierState {
  readonly tier: TierId;
  /** When the tier was reached or last confirmed by a review. */
  readonly since: Date;
}

export type ReviewOutcome = 'confirmed' | 'upgraded' | 'retained' | 'downgraded';

export interface TierReviewResult extends MemberTierState {
  readonly outcome: ReviewOutcome;
  /** The tier the window spend alone qualifies for. */
  readonly qualifyingTier: TierId;
}

const DAY_MS = 86_400_000;
const MAX_DAYS = 3660;

export function tierReviewProblems(policy: TierReviewPolicy): string[] {
  const problems: string[] = [];
  if (!isWholeNonNegative(policy.retentionDays) || policy.retentionDays > MAX_DAYS) problems.push(`retentionDays must be a whole number 0–${MAX_DAYS}`);
  if (!isWholeNonNegative(policy.warningDays) || policy.warningDays > MAX_DAYS) problems.push(`warningDays must be a whole number 0–${MAX_DAYS}`);
  if (policy.downgrade !== 'one_step' && policy.downgrade !== 'to_qualifying') problems.push('downgrade must be one_step or to_qualifying');
  if (!isTimeZone(policy.timeZone)) problems.push(`timeZone "${String(policy.timeZone)}" is not an IANA time zone`);
  return problems;
}

export function validateTierReviewPolicy(policy: TierReviewPolicy): void {
  assertNoProblems('tier review policy', tierReviewProblems(policy));
}

/** The instant the retention of a tier held since `since` ends (exclusive). */
export function retentionEnd(policy: TierReviewPolicy, since: Date): Date {
  return new Date(instantOf(since) + policy.retentionDays * DAY_MS);
}

const rank = (rules: TierRules, id: TierId) => rules.tiers.findIndex((t) => t.id === id);

/** The review of one member at instant `at` with window spend `spendFen`. */
export function reviewTier(rules: TierRules, policy: TierReviewPolicy, state: MemberTierState, spendFen: number, at: Date): TierReviewResult {
  validateTierReviewPolicy(policy);
  const now = instantOf(at);
  const qualifying = tierFor(spendFen, rules);
  const held = tierById(state.tier, rules);
  const base = { qualifyingTier: qualifying.id };
  if (qualifying.minSpendFen > held.minSpendFen) return { ...base, tier: qualifying.id, since: at, outcome: 'upgraded' };
  if (qualifying.id === held.id) return { ...base, tier: held.id, since: at, outcome: 'confirmed' };
  if (now < retentionEnd(policy, state.since).getTime()) return { ...base, tier: held.id, since: state.since, outcome: 'retained' };
  const to = policy.downgrade === 'one_step' ? rules.tiers[rank(rules, held.id) - 1]! : qualifying;
  return { ...base, tier: to.id, since: at, outcome: 'downgraded' };
}

const localDateText = (at: Date, timeZone: string) => {
  const { year, month, day } = localDateOf(at, timeZone);
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
};

export interface TierProgress {
  readonly nextTier: TierId;
  readonly remainingFen: number;
  /** "再消费¥X升级金卡 / Spend ¥X more to reach Gold". */
  readonly message: string;
}

/** How far the window spend is from the next tier above the one held; null at the top tier. */
export function tierProgress(rules: TierRules, state: MemberTierState, spendFen: number): TierProgress | null {
  const held = tierById(state.tier, rules);
  // Progress is towards the tier above the one held, counted from the spend (which may be below the held tier's threshold).
  const progress = progressToNext(Math.max(spendFen, held.minSpendFen), rules);
  if (progress === null) return null;
  const next: TierDefinition = progress.nextTier;
  const remainingFen = next.minSpendFen - spendFen;
  return {
    nextTier: next.id,
    remainingFen,
    message: `再消费${formatFen(remainingFen)}升级${next.nameZh} / Spend ${formatFen(remainingFen)} more to reach ${next.nameEn}`,
  };
}

export interface TierWarning {
  readonly tier: TierId;
  readonly remainingFen: number;
  /** The review on or after this instant drops the tier unless the spend reaches it by then. */
  readonly deadline: Date;
  /** "再消费¥X保级金卡（2027-01-31前）/ Spend ¥X more by 2027-01-31 to keep Gold". */
  readonly message: string;
}

/**
 * A warning for a member whose window spend no longer reaches their tier and whose retention ends within
 * `warningDays` (or has ended: then the next review drops them). Null when nothing is at risk yet.
 * The date shown is the last local day before the deadline.
 */
export function tierWarning(rules: TierRules, policy: TierReviewPolicy, state: MemberTierState, spendFen: number, at: Date): TierWarning | null {
  validateTierRules(rules);
  validateTierReviewPolicy(policy);
  const held = tierById(state.tier, rules);
  if (tierFor(spendFen, rules).minSpendFen >= held.minSpendFen) return null;
  const deadline = retentionEnd(policy, state.since);
  if (deadline.getTime() - instantOf(at) > policy.warningDays * DAY_MS) return null;
  const remainingFen = held.minSpendFen - spendFen;
  const shown = localDateText(new Date(Math.max(deadline.getTime(), instantOf(at) + 1) - 1), policy.timeZone);
  return {
    tier: held.id,
    remainingFen,
    deadline,
    message:
      `再消费${formatFen(remainingFen)}保级${held.nameZh}（${shown}前）/ ` +
      `Spend ${formatFen(remainingFen)} more by ${shown} to keep ${held.nameEn}`,
  };
}
