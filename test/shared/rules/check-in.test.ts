import { describe, expect, it } from 'vitest';
import { AlreadyCheckedInError, checkInAward, CheckInDisabledError, checkInRuleProblems, type CheckInRules } from '../../../shared/rules/check-in.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';

const rules: CheckInRules = { enabled: true, points: 5, timeZone: 'Asia/Shanghai', streakBonus: { everyDays: 7, bonusPoints: 20 } };
const SH = 'Asia/Shanghai';

describe('daily check-in: once per local day, streak bonus', () => {
  it.each([
    // instant, zone, local date
    ['2026-05-01T15:59:59.999Z', SH, '2026-05-01'],
    ['2026-05-01T16:00:00.000Z', SH, '2026-05-02'],
    ['2026-05-01T23:30:00.000Z', 'UTC', '2026-05-01'],
    ['2026-05-02T00:00:00.000Z', 'UTC', '2026-05-02'],
    ['2026-05-02T03:59:59.999Z', 'America/New_York', '2026-05-01'],
  ])('%s in %s is local day %s', (at, zone, localDate) => {
    expect(checkInAward(rules, new Date(at), zone, null).localDate).toBe(localDate);
  });

  it.each([
    // last check-in, this one (Shanghai), streak, points
    [null, '2026-05-01T02:00:00Z', 1, 5],
    [{ localDate: '2026-04-30', streak: 1 }, '2026-05-01T02:00:00Z', 2, 5],
    [{ localDate: '2026-04-29', streak: 4 }, '2026-05-01T02:00:00Z', 1, 5],
    [{ localDate: '2026-04-30', streak: 6 }, '2026-05-01T02:00:00Z', 7, 25],
    [{ localDate: '2026-04-30', streak: 13 }, '2026-05-01T02:00:00Z', 14, 25],
    [{ localDate: '2026-04-30', streak: 7 }, '2026-05-01T02:00:00Z', 8, 5],
    // month and year boundaries
    [{ localDate: '2026-02-28', streak: 2 }, '2026-03-01T02:00:00Z', 3, 5],
    [{ localDate: '2025-12-31', streak: 2 }, '2026-01-01T02:00:00Z', 3, 5],
    // 23:59 local one day and 00:00 local the next are consecutive days
    [{ localDate: '2026-05-01', streak: 1 }, '2026-05-01T16:00:00Z', 2, 5],
  ])('after %j, a check-in at %s: streak %i, %i points', (last, at, streak, points) => {
    const award = checkInAward(rules, new Date(at), SH, last);
    expect([award.streak, award.points, award.basePoints + award.streakBonusPoints]).toEqual([streak, points, points]);
  });

  it.each([
    ['the same local day', '2026-05-01T15:59:59.999Z'],
    ['local midnight that started the day', '2026-04-30T16:00:00.000Z'],
  ])('a second check-in on %s is refused', (_label, at) => {
    expect(() => checkInAward(rules, new Date(at), SH, { localDate: '2026-05-01', streak: 1 })).toThrow(AlreadyCheckedInError);
  });

  it('a clock behind the last check-in is refused too (never a second award for one day)', () => {
    expect(() => checkInAward(rules, new Date('2026-04-29T02:00:00Z'), SH, { localDate: '2026-05-01', streak: 1 })).toThrow(AlreadyCheckedInError);
  });

  it('without a streak bonus every day earns the base points', () => {
    const { streakBonus: _, ...plain } = rules;
    expect(checkInAward(plain, new Date('2026-05-01T02:00:00Z'), SH, { localDate: '2026-04-30', streak: 6 }).points).toBe(5);
  });

  it('disabled programme and bad rules', () => {
    expect(() => checkInAward({ ...rules, enabled: false }, new Date(), SH, null)).toThrow(CheckInDisabledError);
    expect(checkInRuleProblems({ enabled: true, points: -1, timeZone: 'X/Y', streakBonus: { everyDays: 1, bonusPoints: 0.5 } })).toEqual([
      'points must be a whole number 0–1000000',
      'timeZone "X/Y" is not an IANA time zone',
      'streakBonus.everyDays must be a whole number 2–366',
      'streakBonus.bonusPoints must be a whole number 0–1000000',
    ]);
    expect(() => checkInAward({ ...rules, points: -1 }, new Date(), SH, null)).toThrow(RuleSetError);
    expect(new AlreadyCheckedInError('2026-05-01').message).toBe('今天已签到 (2026-05-01) / Already checked in today (2026-05-01)');
  });
});
