/**
 * The time a bench may take (`npm run bench` gives each one its own, run.ts). A bench measures until it has what
 * it came for or its budget runs out, then reports what it reached — "reached N of M in budget" — instead of
 * failing: on a busy machine the numbers are lower, never missing.
 */
export interface Budget {
  readonly ms: number;
  /** Milliseconds left, never below 0. */
  remainingMs(): number;
  expired(): boolean;
}

export const BENCH_BUDGET_ENV = 'BENCH_BUDGET_MS';

export function budgetOf(ms: number, start = performance.now()): Budget {
  const deadline = start + ms;
  return {
    ms,
    remainingMs: () => Math.max(0, deadline - performance.now()),
    expired: () => performance.now() >= deadline,
  };
}

/** The budget run.ts gave this bench process, or `fallbackMs` when a bench is run on its own. */
export function budgetFromEnv(fallbackMs: number): Budget {
  const ms = Number(process.env[BENCH_BUDGET_ENV]);
  return budgetOf(Number.isFinite(ms) && ms > 0 ? ms : fallbackMs);
}

/** The note of a bench that ran out of budget before it was done. */
export const reachedNote = (done: number, total: number, what: string, budget: Budget) =>
  `reached ${done} of ${total} ${what} in its ${Math.round(budget.ms / 1000)} s budget`;

/** Resolves when `work` settles or after `ms`, whichever is first: true when `work` was done in time. */
export async function doneWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
