/**
 * Top-up bonus across a kiosk cash session. A kiosk credits every banknote as its own transaction (each is
 * durable before the member is told "done"), but the member is promised the bracket their session total
 * reaches: two ¥100 notes make a ¥200 top-up (充200送50), not two ¥100 ones (2 × 充100送20).
 *
 * So bill k earns the bonus its session total adds: max(0, f(credited + amount) − f(credited)), where f is
 * the single-top-up price (topup-bonus.ts) with the session's rules at the session's instant. For the usual
 * rules (bonus grows with the bracket) the bills' bonuses add up to exactly f(session total); a bill never
 * takes bonus back. Kiosk and hub both call these functions, with the rules version and instant the kiosk
 * recorded, so they agree to the fen and the point.
 */
import { isFen } from '../money.ts';
import { priceTopUp, type TopUpBonusRule, type TopUpPrice } from './topup-bonus.ts';
import { isActiveAt } from './window.ts';

/** Bonus already earned by `creditedFen` in the session (nothing for an empty session). */
function earnedBy(rules: readonly TopUpBonusRule[], creditedFen: number, at: Date): TopUpPrice {
  if (!isFen(creditedFen) || creditedFen < 0) throw new RangeError(`credited amount must be a whole number of fen ≥ 0: ${String(creditedFen)}`);
  return creditedFen === 0 ? { principalFen: 0, bonusFen: 0, bonusPoints: 0, ruleId: null } : priceTopUp(rules, creditedFen, at);
}

/**
 * The bonus rules as they apply to the rest of a session that has credited `creditedFen` so far: each
 * bracket not reached yet, its threshold lowered by what is already in and its bonus by what is already
 * earned. Pricing the next bill with these rules (the ledger's plain priceTopUp) gives that bill's share;
 * the rule ids stay the original ones, so the posted transaction names the bracket the session reached.
 */
export function remainingTopUpRules(rules: readonly TopUpBonusRule[], creditedFen: number, at: Date): TopUpBonusRule[] {
  const earned = earnedBy(rules, creditedFen, at);
  return rules
    .filter((rule) => rule.thresholdFen > creditedFen)
    .map((rule) => ({
      ...rule,
      thresholdFen: rule.thresholdFen - creditedFen,
      bonusFen: Math.max(0, rule.bonusFen - earned.bonusFen),
      bonusPoints: Math.max(0, (rule.bonusPoints ?? 0) - earned.bonusPoints),
    }));
}

/** Principal, bonus and bonus points of one bill of `amountFen` in a session that has credited `creditedFen`. */
export function priceSessionBill(rules: readonly TopUpBonusRule[], creditedFen: number, amountFen: number, at: Date): TopUpPrice {
  return priceTopUp(remainingTopUpRules(rules, creditedFen, at), amountFen, at);
}

export interface NextBracket {
  readonly thresholdFen: number;
  /** How much more cash reaches it (> 0). */
  readonly missingFen: number;
  /** What the whole session earns once it is reached. */
  readonly bonusFen: number;
  readonly bonusPoints: number;
}

export interface TopUpOffer {
  readonly creditedFen: number;
  /** What the session has earned so far. */
  readonly bonusFen: number;
  readonly bonusPoints: number;
  /** The cheapest active bracket above the session total that earns more; null when none is left. */
  readonly next: NextBracket | null;
}

/** What the member sees while cash goes in: "充100送20 · 再投¥100可送50". */
export function topUpOffer(rules: readonly TopUpBonusRule[], creditedFen: number, at: Date): TopUpOffer {
  const earned = earnedBy(rules, creditedFen, at);
  const better = rules
    .filter((rule) => rule.thresholdFen > creditedFen && isActiveAt(rule, at))
    .map((rule) => ({ rule, price: priceTopUp(rules, rule.thresholdFen, at) }))
    .filter(({ price }) => price.bonusFen > earned.bonusFen || price.bonusPoints > earned.bonusPoints)
    .sort((a, b) => a.rule.thresholdFen - b.rule.thresholdFen)[0];
  return {
    creditedFen,
    bonusFen: earned.bonusFen,
    bonusPoints: earned.bonusPoints,
    next: better
      ? {
          thresholdFen: better.rule.thresholdFen,
          missingFen: better.rule.thresholdFen - creditedFen,
          bonusFen: better.price.bonusFen,
          bonusPoints: better.price.bonusPoints,
        }
      : null,
  };
}
