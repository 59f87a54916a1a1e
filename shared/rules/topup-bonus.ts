/**
 * Stored-value top-up bonus: 充100送20, 充200送50, 充300送100.
 *
 * Each bracket is one rule with its own validity window, so a holiday bracket (充100送30 for the Spring
 * Festival) can sit beside the everyday one as long as their windows do not overlap. Of the rules active
 * at the moment of the top-up, the best bracket wins: the highest threshold ≤ the amount paid. Brackets
 * never stack.
 *
 * The principal is always exactly what the member paid; the bonus is a separate amount because the ledger
 * keeps it in a separate account (decision 3) and a refund returns principal only.
 */
import { InvalidAmountError, isFen } from '../money.ts';
import { bestBracket } from './brackets.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { instantOf, isActiveAt, windowProblems, windowsOverlap, type ValidityWindow } from './window.ts';

export interface TopUpBonusRule extends ValidityWindow {
  readonly id: string;
  /** The bracket applies when the amount paid is at least this (fen, > 0). */
  readonly thresholdFen: number;
  /** Stored-value bonus credited to the bonus account (fen, ≥ 0). */
  readonly bonusFen: number;
  /** Optional points awarded with the top-up (≥ 0; absent = 0). */
  readonly bonusPoints?: number;
}

export interface TopUpPrice {
  /** Always equal to the amount paid. */
  readonly principalFen: number;
  readonly bonusFen: number;
  readonly bonusPoints: number;
  /** The rule that applied, or null when no bracket was reached. */
  readonly ruleId: string | null;
}

/**
 * Rejects a rule set with non-positive or non-integer thresholds, negative bonuses, bad windows, duplicate
 * ids, or two rules with the same threshold whose windows overlap (then "best bracket" would be ambiguous).
 */
export function validateTopUpRules(rules: readonly TopUpBonusRule[]): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  rules.forEach((rule, index) => {
    const label = `rule ${index} (${String(rule.id)})`;
    if (typeof rule.id !== 'string' || rule.id === '') problems.push(`${label}: id must be a non-empty string`);
    else if (ids.has(rule.id)) problems.push(`${label}: duplicate id`);
    else ids.add(rule.id);
    if (!isFen(rule.thresholdFen) || rule.thresholdFen <= 0) {
      problems.push(`${label}: thresholdFen must be a positive whole number of fen`);
    }
    if (!isFen(rule.bonusFen) || rule.bonusFen < 0) problems.push(`${label}: bonusFen must be a whole number of fen ≥ 0`);
    if (rule.bonusPoints !== undefined && !isWholeNonNegative(rule.bonusPoints)) {
      problems.push(`${label}: bonusPoints must be a whole number ≥ 0`);
    }
    problems.push(...windowProblems(label, rule));
  });
  if (problems.length === 0) {
    for (let i = 0; i < rules.length; i++) {
      for (let j = i + 1; j < rules.length; j++) {
        const a = rules[i]!;
        const b = rules[j]!;
        if (a.thresholdFen === b.thresholdFen && windowsOverlap(a, b)) {
          problems.push(`rules ${a.id} and ${b.id}: same threshold ${a.thresholdFen} fen in overlapping windows`);
        }
      }
    }
  }
  assertNoProblems('top-up bonus rules', problems);
}

/** Prices a top-up of `amountFen` (> 0) at instant `at`. Validates the rules first. */
export function priceTopUp(rules: readonly TopUpBonusRule[], amountFen: number, at: Date): TopUpPrice {
  validateTopUpRules(rules);
  if (!isFen(amountFen) || amountFen <= 0) {
    throw new InvalidAmountError(`top-up amount must be a positive whole number of fen: ${String(amountFen)}`);
  }
  instantOf(at);
  const active = rules.filter((rule) => isActiveAt(rule, at));
  const rule = bestBracket(active, (r) => r.thresholdFen, amountFen);
  if (rule === null) return { principalFen: amountFen, bonusFen: 0, bonusPoints: 0, ruleId: null };
  return { principalFen: amountFen, bonusFen: rule.bonusFen, bonusPoints: rule.bonusPoints ?? 0, ruleId: rule.id };
}
