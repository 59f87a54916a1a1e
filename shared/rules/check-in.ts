/**
 * Daily check-in (每日签到): a member may check in once per calendar day in the store's time zone and earns
 * `points`; every `streakBonus.everyDays`-th consecutive day adds `streakBonus.bonusPoints` (7-day streak
 * bonus). A missed day restarts the streak at 1. Days are local calendar days, so a check-in at 23:59 and
 * another at 00:00 the next local day are two days, while 00:00 and 23:59 of the same day are one.
 */
import { periodOf } from './budget.ts';
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { isTimeZone } from './points-expiry.ts';

export interface CheckInRules {
  readonly enabled: boolean;
  /** Points for every check-in (whole, ≥ 0). */
  readonly points: number;
  /** Zone used when the store's own zone is not known. */
  readonly timeZone: string;
  readonly streakBonus?: { readonly everyDays: number; readonly bonusPoints: number };
}

export interface LastCheckIn {
  /** 'YYYY-MM-DD' local date of the member's latest check-in. */
  readonly localDate: string;
  readonly streak: number;
}

export interface CheckInAward {
  readonly localDate: string;
  /** Consecutive days including this one. */
  readonly streak: number;
  readonly basePoints: number;
  readonly streakBonusPoints: number;
  readonly points: number;
}

const MAX_POINTS = 1_000_000;

export function checkInRuleProblems(rules: CheckInRules): string[] {
  const problems: string[] = [];
  if (typeof rules.enabled !== 'boolean') problems.push('enabled must be true or false');
  if (!isWholeNonNegative(rules.points) || rules.points > MAX_POINTS) problems.push(`points must be a whole number 0–${MAX_POINTS}`);
  if (!isTimeZone(rules.timeZone)) problems.push(`timeZone "${String(rules.timeZone)}" is not an IANA time zone`);
  const streak = rules.streakBonus;
  if (streak !== undefined) {
    if (!isWholeNonNegative(streak.everyDays) || streak.everyDays < 2 || streak.everyDays > 366) {
      problems.push('streakBonus.everyDays must be a whole number 2–366');
    }
    if (!isWholeNonNegative(streak.bonusPoints) || streak.bonusPoints > MAX_POINTS) {
      problems.push(`streakBonus.bonusPoints must be a whole number 0–${MAX_POINTS}`);
    }
  }
  return problems;
}

export function validateCheckInRules(rules: CheckInRules): void {
  assertNoProblems('check-in rules', checkInRuleProblems(rules));
}

/** The member already checked in on this local day; nothing is awarded. */
export class AlreadyCheckedInError extends Error {
  constructor(readonly localDate: string) {
    super(`今天已签到 (${localDate}) / Already checked in today (${localDate})`);
    this.name = 'AlreadyCheckedInError';
  }
}

export class CheckInDisabledError extends Error {
  constructor() {
    super('签到活动未开启 / Daily check-in is not available');
    this.name = 'CheckInDisabledError';
  }
}

/** The local day before `localDate` ('YYYY-MM-DD'), by the proleptic calendar (no zone needed). */
function dayBefore(localDate: string): string {
  const [y, m, d] = localDate.split('-').map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! - 1)).toISOString().slice(0, 10);
}

/** What a check-in at `at` earns, given the member's previous one; throws AlreadyCheckedInError on a second one the same day. */
export function checkInAward(rules: CheckInRules, at: Date, timeZone: string, last: LastCheckIn | null): CheckInAward {
  validateCheckInRules(rules);
  if (!rules.enabled) throw new CheckInDisabledError();
  const localDate = periodOf('day', at, timeZone).key;
  if (last !== null && last.localDate >= localDate) throw new AlreadyCheckedInError(localDate);
  const streak = last !== null && last.localDate === dayBefore(localDate) ? last.streak + 1 : 1;
  const bonus = rules.streakBonus;
  const streakBonusPoints = bonus !== undefined && streak % bonus.everyDays === 0 ? bonus.bonusPoints : 0;
  return { localDate, streak, basePoints: rules.points, streakBonusPoints, points: rules.points + streakBonusPoints };
}
