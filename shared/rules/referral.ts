/**
 * Referral rewards (推荐有礼): when a referred member (referee) registers or makes their first purchase —
 * whichever the program chooses — the referrer and/or the referee get points. A member cannot refer
 * themselves, and each referee is rewarded at most once (the hub enforces "once" with a unique row per
 * referee; this module decides whether and how much).
 */
import { InvalidAmountError, isFen } from '../money.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';

export type ReferralTrigger = 'registration' | 'first_purchase';

export interface ReferralRules {
  readonly enabled: boolean;
  readonly trigger: ReferralTrigger;
  readonly referrerPoints: number;
  readonly refereePoints: number;
  /**
   * With trigger first_purchase: the first purchase reaching this amount earns the reward (fen, ≥ 0; absent =
   * any purchase above 0). A smaller purchase earns nothing and leaves the reward waiting for a later one.
   */
  readonly minFirstPurchaseFen?: number;
}

export interface ReferralReward {
  readonly referrerPoints: number;
  readonly refereePoints: number;
}

const MAX_POINTS = 1_000_000;

export function referralRuleProblems(rules: ReferralRules): string[] {
  const problems: string[] = [];
  if (typeof rules.enabled !== 'boolean') problems.push('enabled must be true or false');
  if (rules.trigger !== 'registration' && rules.trigger !== 'first_purchase') problems.push('trigger must be registration or first_purchase');
  for (const name of ['referrerPoints', 'refereePoints'] as const) {
    if (!isWholeNonNegative(rules[name]) || rules[name] > MAX_POINTS) problems.push(`${name} must be a whole number 0–${MAX_POINTS}`);
  }
  if (rules.minFirstPurchaseFen !== undefined) {
    if (!isFen(rules.minFirstPurchaseFen) || rules.minFirstPurchaseFen < 0) problems.push('minFirstPurchaseFen must be whole fen ≥ 0');
    if (rules.trigger === 'registration') problems.push('minFirstPurchaseFen only applies with trigger first_purchase');
  }
  return problems;
}

export function validateReferralRules(rules: ReferralRules): void {
  assertNoProblems('referral rules', referralRuleProblems(rules));
}

export class SelfReferralError extends Error {
  constructor() {
    super('不能推荐自己 / A member cannot refer themselves');
    this.name = 'SelfReferralError';
  }
}

/** Refuses a referral of a member by themselves. */
export function assertReferralAllowed(referrerId: string, refereeId: string): void {
  if (referrerId === refereeId) throw new SelfReferralError();
}

export type ReferralEvent = { readonly kind: 'registration' } | { readonly kind: 'first_purchase'; readonly amountFen: number };

/**
 * The reward this event earns, or null when it earns nothing: program off, the event is not the trigger,
 * the first purchase is below the minimum, both rewards are 0, or the referee was already rewarded.
 */
export function referralReward(rules: ReferralRules, event: ReferralEvent, alreadyRewarded: boolean): ReferralReward | null {
  validateReferralRules(rules);
  if (event.kind === 'first_purchase' && (!isFen(event.amountFen) || event.amountFen < 0)) {
    throw new InvalidAmountError(`purchase amount must be whole fen ≥ 0: ${String(event.amountFen)}`);
  }
  if (!rules.enabled || alreadyRewarded || event.kind !== rules.trigger) return null;
  if (event.kind === 'first_purchase' && event.amountFen < Math.max(1, rules.minFirstPurchaseFen ?? 0)) return null;
  if (rules.referrerPoints === 0 && rules.refereePoints === 0) return null;
  return { referrerPoints: rules.referrerPoints, refereePoints: rules.refereePoints };
}
