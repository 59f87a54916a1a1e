/**
 * Points budgets: caps on the points a member or a store may earn or spend per calendar period, and the
 * alerts raised as a budget fills up.
 *
 * Periods are calendar days or months in the program's IANA time zone (not rolling 24 h), so "500 points a
 * day" resets at local midnight for everyone, on the kiosk and on the hub alike. A cap never makes an award
 * fail: the award is cut down to what is left (possibly 0). Spending against a cap is all-or-nothing — the
 * caller refuses a redemption the allowance does not cover (see `allowance`).
 */
import { isWholeNonNegative } from './errors.ts';
import { isTimeZone, localDateOf, startOfLocalDay } from './points-expiry.ts';
import { instantOf } from './window.ts';

export type BudgetScope = 'member' | 'store';
export type BudgetDirection = 'earn' | 'spend';
export type BudgetPeriod = 'day' | 'month';

export interface BudgetCap {
  readonly scope: BudgetScope;
  readonly direction: BudgetDirection;
  readonly period: BudgetPeriod;
  /** Points allowed per period (whole, > 0). */
  readonly limitPoints: number;
}

export interface BudgetRules {
  /** The zone whose calendar the periods follow. */
  readonly timeZone: string;
  readonly caps: readonly BudgetCap[];
  /** Fill levels (percent, 1–100, ascending) at which an alert is raised, e.g. [80, 100]. */
  readonly alertPercents: readonly number[];
}

export const BUDGET_SCOPES: readonly BudgetScope[] = ['member', 'store'];
export const BUDGET_DIRECTIONS: readonly BudgetDirection[] = ['earn', 'spend'];
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'month'];
const MAX_LIMIT = 1_000_000_000;

export function budgetRuleProblems(rules: BudgetRules): string[] {
  const problems: string[] = [];
  if (!isTimeZone(rules.timeZone)) problems.push(`timeZone "${String(rules.timeZone)}" is not an IANA time zone`);
  const seen = new Set<string>();
  (rules.caps ?? []).forEach((cap, index) => {
    const label = `cap ${index}`;
    if (!BUDGET_SCOPES.includes(cap.scope)) problems.push(`${label}: scope must be member or store`);
    if (!BUDGET_DIRECTIONS.includes(cap.direction)) problems.push(`${label}: direction must be earn or spend`);
    if (!BUDGET_PERIODS.includes(cap.period)) problems.push(`${label}: period must be day or month`);
    if (!isWholeNonNegative(cap.limitPoints) || cap.limitPoints === 0 || cap.limitPoints > MAX_LIMIT) {
      problems.push(`${label}: limitPoints must be a whole number 1–${MAX_LIMIT}`);
    }
    const id = `${cap.scope}/${cap.direction}/${cap.period}`;
    if (seen.has(id)) problems.push(`${label}: a second ${id} cap (one per scope, direction and period)`);
    seen.add(id);
  });
  if (!Array.isArray(rules.caps)) problems.push('caps must be a list');
  const percents = rules.alertPercents ?? [];
  percents.forEach((p, index) => {
    if (!isWholeNonNegative(p) || p < 1 || p > 100) problems.push(`alertPercents ${index}: must be a whole number 1–100`);
    else if (index > 0 && !(p > percents[index - 1]!)) problems.push(`alertPercents ${index}: must be ascending`);
  });
  return problems;
}

export interface PeriodInstant {
  /** 'YYYY-MM-DD' for a day, 'YYYY-MM' for a month, in the zone. */
  readonly key: string;
  /** First instant of the period (inclusive). */
  readonly start: Date;
  /** First instant of the next period (exclusive). */
  readonly end: Date;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The calendar day or month `at` falls in, in `timeZone`, with its bounds (DST-safe: from local midnights). */
export function periodOf(period: BudgetPeriod, at: Date, timeZone: string): PeriodInstant {
  instantOf(at);
  const { year, month, day } = localDateOf(at, timeZone);
  if (period === 'day') {
    const next = new Date(Date.UTC(year, month - 1, day + 1));
    return {
      key: `${year}-${pad(month)}-${pad(day)}`,
      start: startOfLocalDay({ year, month, day }, timeZone),
      end: startOfLocalDay({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() }, timeZone),
    };
  }
  const nextMonth = month === 12 ? { year: year + 1, month: 1, day: 1 } : { year, month: month + 1, day: 1 };
  return {
    key: `${year}-${pad(month)}`,
    start: startOfLocalDay({ year, month, day: 1 }, timeZone),
    end: startOfLocalDay(nextMonth, timeZone),
  };
}

function checkPoints(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number of points ≥ 0: ${String(value)}`);
}

/** How many of `requested` points fit under `limit` when `used` are already taken: min(requested, limit − used), never < 0. */
export function allowance(limit: number, used: number, requested: number): number {
  checkPoints('limit', limit);
  checkPoints('used', used);
  checkPoints('requested', requested);
  return Math.max(0, Math.min(requested, limit - used));
}

/**
 * The alert levels a change from `usedBefore` to `usedAfter` crosses: percent p fires when the usage first
 * reaches ⌈limit × p / 100⌉ points (ceil: "80 % used" never fires below 80 %). Each level fires once per
 * period because a later change starts above it.
 */
export function alertsCrossed(limit: number, usedBefore: number, usedAfter: number, alertPercents: readonly number[]): number[] {
  checkPoints('limit', limit);
  checkPoints('usedBefore', usedBefore);
  checkPoints('usedAfter', usedAfter);
  return alertPercents.filter((p) => {
    const level = Number((BigInt(limit) * BigInt(p) + 99n) / 100n);
    return usedBefore < level && level <= usedAfter;
  });
}

/** The caps of one scope and direction. */
export function capsFor(rules: BudgetRules, scope: BudgetScope, direction: BudgetDirection): BudgetCap[] {
  return rules.caps.filter((cap) => cap.scope === scope && cap.direction === direction);
}
