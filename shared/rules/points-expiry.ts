/**
 * Points expiry (decision 3: points are kept in lots, one per award).
 *
 * A policy turns the instant of an award into the instant its lot expires. Expiry always falls on a
 * midnight in the store's IANA time zone, so "valid until 31 Dec" means the whole of 31 Dec where the
 * member lives, whatever the server's zone. Time zones are resolved with Intl (no date library).
 * A debit takes points from the lot that expires soonest, so the member loses as little as possible.
 */
import { assertNoProblems, isWholeNonNegative } from './errors.ts';
import { instantOf } from './window.ts';

export type PointsExpiryPolicy =
  | { readonly kind: 'never' }
  /** Valid through the same calendar day `months` later; expires at the following midnight. */
  | { readonly kind: 'months_after_award'; readonly months: number; readonly timeZone: string }
  /** Valid through 31 December of the award's year; expires at midnight starting 1 January. */
  | { readonly kind: 'end_of_year'; readonly timeZone: string };

export const NEVER_EXPIRE: PointsExpiryPolicy = { kind: 'never' };
const MAX_MONTHS = 1200;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // Throws RangeError for a zone Intl does not know.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isTimeZone(value: unknown): value is string {
  if (typeof value !== 'string' || value === '') return false;
  try {
    formatterFor(value);
    return true;
  } catch {
    return false;
  }
}

export function validatePointsExpiryPolicy(policy: PointsExpiryPolicy): void {
  const problems: string[] = [];
  switch (policy?.kind) {
    case 'never':
      break;
    case 'months_after_award':
      if (!isWholeNonNegative(policy.months) || policy.months < 1 || policy.months > MAX_MONTHS) {
        problems.push(`months must be a whole number from 1 to ${MAX_MONTHS}`);
      }
      if (!isTimeZone(policy.timeZone)) problems.push(`timeZone "${String(policy.timeZone)}" is not an IANA time zone`);
      break;
    case 'end_of_year':
      if (!isTimeZone(policy.timeZone)) problems.push(`timeZone "${String(policy.timeZone)}" is not an IANA time zone`);
      break;
    default:
      problems.push(`kind must be never, months_after_award or end_of_year`);
  }
  assertNoProblems('points expiry policy', problems);
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** Wall-clock fields of an instant in a zone (ms dropped: zone offsets are whole seconds). */
function localParts(t: number, timeZone: string): LocalDate & { hour: number; minute: number; second: number } {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(t))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return { year: fields.year!, month: fields.month!, day: fields.day!, hour: fields.hour!, minute: fields.minute!, second: fields.second! };
}

/** The zone's UTC offset at instant t, in ms (east positive). */
function offsetAt(t: number, timeZone: string): number {
  const p = localParts(t, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - (t - (((t % 1000) + 1000) % 1000));
}

/** The calendar date of an instant in a zone. */
export function localDateOf(at: Date, timeZone: string): LocalDate {
  const { year, month, day } = localParts(instantOf(at), timeZone);
  return { year, month, day };
}

/**
 * The first instant of a local calendar day. Normally its midnight; in a zone whose DST starts at
 * midnight (clocks jump 00:00 → 01:00) midnight does not exist and the day starts at 01:00. The offsets
 * just before and just after the day's start give the only two candidates; the earlier one that lies on
 * the day is its start.
 */
export function startOfLocalDay({ year, month, day }: LocalDate, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day);
  const candidates = [wall - offsetAt(wall - DAY_MS / 2, timeZone), wall - offsetAt(wall + DAY_MS / 2, timeZone)].sort((a, b) => a - b);
  for (const t of candidates) {
    const p = localParts(t, timeZone);
    if (p.year === year && p.month === month && p.day === day) return new Date(t);
  }
  throw new RangeError(`no start found for ${year}-${month}-${day} in ${timeZone}`);
}

/** Adds calendar days/months to a date, clamping the day to the month's length (31 Jan + 1 month = 28/29 Feb). */
function addMonthsClamped({ year, month, day }: LocalDate, months: number): LocalDate {
  const index = year * 12 + (month - 1) + months;
  const y = Math.floor(index / 12);
  const m = (index % 12) + 1;
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { year: y, month: m, day: Math.min(day, last) };
}

function nextDay({ year, month, day }: LocalDate): LocalDate {
  const d = new Date(Date.UTC(year, month - 1, day + 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** When points awarded at `awardedAt` expire under the policy; null = never. */
export function pointsExpireAt(policy: PointsExpiryPolicy, awardedAt: Date): Date | null {
  validatePointsExpiryPolicy(policy);
  instantOf(awardedAt);
  switch (policy.kind) {
    case 'never':
      return null;
    case 'months_after_award': {
      const lastValidDay = addMonthsClamped(localDateOf(awardedAt, policy.timeZone), policy.months);
      return startOfLocalDay(nextDay(lastValidDay), policy.timeZone);
    }
    case 'end_of_year':
      return startOfLocalDay({ year: localDateOf(awardedAt, policy.timeZone).year + 1, month: 1, day: 1 }, policy.timeZone);
  }
}

/** A lot as the allocation sees it. */
export interface LotBalance {
  readonly id: string;
  readonly remaining: number;
  /** Epoch ms; null = never expires. */
  readonly expiresAt: number | null;
  /** Award order (earlier award = smaller), breaking ties between lots expiring together. */
  readonly awardOrder: number;
}

export interface LotTake {
  readonly lotId: string;
  readonly points: number;
}

/** Soonest expiry first, never-expiring last, then the earlier award. */
export function compareLots(a: LotBalance, b: LotBalance): number {
  if (a.expiresAt !== b.expiresAt) {
    if (a.expiresAt === null) return 1;
    if (b.expiresAt === null) return -1;
    return a.expiresAt - b.expiresAt;
  }
  return a.awardOrder - b.awardOrder;
}

export class InsufficientLotPointsError extends Error {
  constructor(
    readonly availablePoints: number,
    readonly neededPoints: number,
  ) {
    super(`lots hold ${availablePoints} points but ${neededPoints} are needed`);
    this.name = 'InsufficientLotPointsError';
  }
}

/**
 * Which lots a debit of `points` (> 0) takes from, soonest-expiring first. Lots past their expiry that the
 * expiry job has not processed yet still count (their points are still in the balance) and go first.
 */
export function allocatePointsDebit(lots: readonly LotBalance[], points: number): LotTake[] {
  if (!Number.isSafeInteger(points) || points <= 0) throw new RangeError(`points to take must be a positive whole number: ${points}`);
  const takes: LotTake[] = [];
  let left = points;
  for (const lot of [...lots].filter((l) => l.remaining > 0).sort(compareLots)) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    takes.push({ lotId: lot.id, points: take });
    left -= take;
  }
  if (left > 0) throw new InsufficientLotPointsError(points - left, points);
  return takes;
}

export interface ExpiringSoon {
  /** Points that expire in (asOf, asOf + withinDays × 24 h]. */
  readonly points: number;
  /** Per expiry instant, soonest first. */
  readonly batches: readonly { readonly expiresAt: Date; readonly points: number }[];
}

/** Points that will expire within the next `withinDays` days (24-hour days from asOf), for member warnings. */
export function pointsExpiringWithin(lots: readonly LotBalance[], asOf: Date, withinDays: number): ExpiringSoon {
  const from = instantOf(asOf);
  if (!Number.isSafeInteger(withinDays) || withinDays < 0 || withinDays > 3660) {
    throw new RangeError(`withinDays must be a whole number from 0 to 3660: ${withinDays}`);
  }
  const until = from + withinDays * DAY_MS;
  const byInstant = new Map<number, number>();
  for (const lot of lots) {
    if (lot.remaining > 0 && lot.expiresAt !== null && lot.expiresAt > from && lot.expiresAt <= until) {
      byInstant.set(lot.expiresAt, (byInstant.get(lot.expiresAt) ?? 0) + lot.remaining);
    }
  }
  const batches = [...byInstant].sort(([a], [b]) => a - b).map(([t, points]) => ({ expiresAt: new Date(t), points }));
  return { points: batches.reduce((sum, b) => sum + b.points, 0), batches };
}

/**
 * The member-facing warning for the soonest batch: the last day the points can be used, in the store's
 * zone (the day before the expiry midnight). Undefined when nothing expires soon.
 */
export function expiryWarningText(soon: ExpiringSoon, timeZone: string): string | undefined {
  const first = soon.batches[0];
  if (!first) return undefined;
  const { year, month, day } = localDateOf(new Date(first.expiresAt.getTime() - 1), timeZone);
  const date = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  return `您有 ${first.points} 积分将于 ${date} 后过期 / ${first.points} points expire after ${date}`;
}
