/**
 * Errors of the rules engine. A rule set is configuration typed in by an operator: when it is wrong we
 * report every problem at once (not just the first), so the operator can fix the whole form in one pass.
 */
export class RuleSetError extends Error {
  readonly problems: readonly string[];

  constructor(what: string, problems: readonly string[]) {
    super(`invalid ${what}: ${problems.join('; ')}`);
    this.name = 'RuleSetError';
    this.problems = problems;
  }
}

/** Throws a RuleSetError if any problem was collected; the validators below all end with this. */
export function assertNoProblems(what: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new RuleSetError(what, problems);
}

/** Whole, non-negative, safe integer: the only kind of number a rule may hold (decision 2: no floats). */
export function isWholeNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
