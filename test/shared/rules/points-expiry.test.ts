import { describe, expect, it } from 'vitest';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import {
  InsufficientLotPointsError,
  allocatePointsDebit,
  expiryWarningText,
  pointsExpireAt,
  pointsExpiringWithin,
  startOfLocalDay,
  type LotBalance,
  type PointsExpiryPolicy,
} from '../../../shared/rules/points-expiry.ts';

const shanghai12: PointsExpiryPolicy = { kind: 'months_after_award', months: 12, timeZone: 'Asia/Shanghai' };
const newYork1: PointsExpiryPolicy = { kind: 'months_after_award', months: 1, timeZone: 'America/New_York' };

describe('pointsExpireAt: midnight in the store zone', () => {
  it.each<[string, PointsExpiryPolicy, string, string | null]>([
    ['never', { kind: 'never' }, '2026-03-15T10:00:00+08:00', null],
    // Valid through the same day 12 months later, expiring at the next Shanghai midnight (16:00Z the day before).
    ['12 months, mid-day', shanghai12, '2026-03-15T10:00:00+08:00', '2027-03-16T00:00:00+08:00'],
    ['12 months, first instant of the day', shanghai12, '2026-03-15T00:00:00+08:00', '2027-03-16T00:00:00+08:00'],
    ['12 months, last ms of the day', shanghai12, '2026-03-15T23:59:59.999+08:00', '2027-03-16T00:00:00+08:00'],
    // 15:59:59Z is still 14 Mar in UTC but 23:59 in Shanghai: the store's date counts, not UTC's.
    ['12 months, UTC date differs', shanghai12, '2026-03-14T16:00:00Z', '2027-03-16T00:00:00+08:00'],
    ['12 months, one ms before Shanghai midnight', shanghai12, '2026-03-14T15:59:59.999Z', '2027-03-15T00:00:00+08:00'],
    ['month-end clamps: 31 Jan + 1 month', { kind: 'months_after_award', months: 1, timeZone: 'Asia/Shanghai' }, '2026-01-31T12:00:00+08:00', '2026-03-01T00:00:00+08:00'],
    ['leap day + 12 months → 28 Feb', shanghai12, '2028-02-29T12:00:00+08:00', '2029-03-01T00:00:00+08:00'],
    ['end of year', { kind: 'end_of_year', timeZone: 'Asia/Shanghai' }, '2026-06-01T12:00:00+08:00', '2027-01-01T00:00:00+08:00'],
    ['end of year, awarded 31 Dec 23:59 local', { kind: 'end_of_year', timeZone: 'Asia/Shanghai' }, '2026-12-31T23:59:59+08:00', '2027-01-01T00:00:00+08:00'],
    ['end of year, 1 Jan 00:00 local is the new year', { kind: 'end_of_year', timeZone: 'Asia/Shanghai' }, '2026-12-31T16:00:00Z', '2028-01-01T00:00:00+08:00'],
    // New York: EST (−05:00) in winter, EDT (−04:00) in summer; the expiry midnight takes the offset of its own date.
    ['DST zone: winter award, summer expiry', newYork1, '2026-02-20T12:00:00-05:00', '2026-03-21T00:00:00-04:00'],
    ['DST zone: expiry day is the spring-forward day', newYork1, '2026-02-07T12:00:00-05:00', '2026-03-08T00:00:00-05:00'],
    ['DST zone: expiry day after fall-back', newYork1, '2026-10-01T12:00:00-04:00', '2026-11-02T00:00:00-05:00'],
    ['DST zone: award at 23:30 local is the local date', newYork1, '2026-06-30T23:30:00-04:00', '2026-07-31T00:00:00-04:00'],
  ])('%s', (_, policy, awardedAt, expected) => {
    const at = pointsExpireAt(policy, new Date(awardedAt));
    expect(at === null ? null : at.toISOString()).toBe(expected === null ? null : new Date(expected).toISOString());
  });

  it('a day whose midnight does not exist starts at 01:00 (America/Santiago, DST starts at 00:00 on 6 Sep 2026)', () => {
    expect(startOfLocalDay({ year: 2026, month: 9, day: 6 }, 'America/Santiago').toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(startOfLocalDay({ year: 2026, month: 9, day: 7 }, 'America/Santiago').toISOString()).toBe('2026-09-07T03:00:00.000Z');
  });

  it.each<[string, PointsExpiryPolicy]>([
    ['unknown zone', { kind: 'end_of_year', timeZone: 'Mars/Olympus' }],
    ['zero months', { kind: 'months_after_award', months: 0, timeZone: 'Asia/Shanghai' }],
    ['fractional months', { kind: 'months_after_award', months: 1.5, timeZone: 'Asia/Shanghai' }],
    ['unknown kind', { kind: 'sometimes' } as unknown as PointsExpiryPolicy],
  ])('refuses %s', (_, policy) => {
    expect(() => pointsExpireAt(policy, new Date())).toThrow(RuleSetError);
  });

  it('refuses an invalid award instant', () => {
    expect(() => pointsExpireAt(shanghai12, new Date('nope'))).toThrow(TypeError);
  });
});

const t = (iso: string) => new Date(iso).getTime();
const lots: LotBalance[] = [
  { id: 'never-1', remaining: 50, expiresAt: null, awardOrder: 1 },
  { id: 'june-3', remaining: 30, expiresAt: t('2026-07-01T00:00:00+08:00'), awardOrder: 3 },
  { id: 'march-2', remaining: 20, expiresAt: t('2026-04-01T00:00:00+08:00'), awardOrder: 2 },
  { id: 'june-4', remaining: 10, expiresAt: t('2026-07-01T00:00:00+08:00'), awardOrder: 4 },
  { id: 'empty-0', remaining: 0, expiresAt: t('2026-01-01T00:00:00+08:00'), awardOrder: 0 },
];

describe('allocatePointsDebit: soonest-expiring first, never-expiring last, ties by award order', () => {
  it.each<[number, Array<[string, number]>]>([
    [1, [['march-2', 1]]],
    [20, [['march-2', 20]]],
    [21, [['march-2', 20], ['june-3', 1]]],
    [50, [['march-2', 20], ['june-3', 30]]],
    [60, [['march-2', 20], ['june-3', 30], ['june-4', 10]]],
    [61, [['march-2', 20], ['june-3', 30], ['june-4', 10], ['never-1', 1]]],
    [110, [['march-2', 20], ['june-3', 30], ['june-4', 10], ['never-1', 50]]],
  ])('%i points', (points, expected) => {
    expect(allocatePointsDebit(lots, points)).toEqual(expected.map(([lotId, p]) => ({ lotId, points: p })));
  });

  it('one point more than the lots hold throws', () => {
    expect(() => allocatePointsDebit(lots, 111)).toThrow(InsufficientLotPointsError);
    expect(() => allocatePointsDebit(lots, 0)).toThrow(RangeError);
  });
});

describe('pointsExpiringWithin and the member warning', () => {
  const asOf = new Date('2026-03-02T00:00:00+08:00');
  it.each<[number, number]>([
    [0, 0],
    [29, 0], // 1 Apr 00:00 is exactly 30 days after 2 Mar 00:00, 29 days is not enough
    [30, 20], // the bound is inclusive
    [120, 20], // 1 Jul 00:00 is 121 days away
    [121, 60],
    [3660, 60],
  ])('within %i days → %i points', (days, points) => {
    expect(pointsExpiringWithin(lots, asOf, days).points).toBe(points);
  });

  it('groups by expiry instant, soonest first, and excludes already-expired lots', () => {
    const soon = pointsExpiringWithin(lots, asOf, 365);
    expect(soon.batches.map((b) => [b.expiresAt.toISOString(), b.points])).toEqual([
      ['2026-03-31T16:00:00.000Z', 20],
      ['2026-06-30T16:00:00.000Z', 40],
    ]);
    expect(pointsExpiringWithin(lots, new Date('2026-04-01T00:00:00+08:00'), 1).points).toBe(0);
  });

  it('says the last usable day in the store zone, in Chinese and English', () => {
    expect(expiryWarningText(pointsExpiringWithin(lots, asOf, 30), 'Asia/Shanghai')).toBe(
      '您有 20 积分将于 2026-03-31 后过期 / 20 points expire after 2026-03-31',
    );
    expect(expiryWarningText(pointsExpiringWithin(lots, asOf, 1), 'Asia/Shanghai')).toBeUndefined();
  });
});
