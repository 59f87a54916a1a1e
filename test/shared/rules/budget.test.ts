import { describe, expect, it } from 'vitest';
import { alertsCrossed, allowance, budgetRuleProblems, capsFor, periodOf, type BudgetRules } from '../../../shared/rules/budget.ts';

const SH = 'Asia/Shanghai';

describe('points budgets', () => {
  it.each([
    // limit, used, requested, allowed
    [500, 0, 100, 100],
    [500, 400, 100, 100],
    [500, 401, 100, 99],
    [500, 500, 100, 0],
    [500, 600, 100, 0],
    [500, 0, 0, 0],
  ])('limit %i, used %i, asking %i → %i allowed', (limit, used, requested, allowed) => {
    expect(allowance(limit, used, requested)).toBe(allowed);
  });

  it.each([-1, 1.5, Number.NaN])('refuses %s points', (bad) => {
    expect(() => allowance(100, 0, bad)).toThrow(RangeError);
  });

  it.each([
    // limit, before, after, crossed
    [1000, 0, 799, []],
    [1000, 0, 800, [80]],
    [1000, 799, 800, [80]],
    [1000, 800, 900, []],
    [1000, 0, 1000, [80, 100]],
    [1000, 999, 1000, [100]],
    [1000, 1000, 1000, []],
    // ⌈3 × 80 / 100⌉ = 3: "80 %" of a 3-point budget is reached only at 3 points, never at 2 (66 %).
    [3, 0, 2, []],
    [3, 2, 3, [80, 100]],
  ])('limit %i: %i → %i crosses %j', (limit, before, after, crossed) => {
    expect(alertsCrossed(limit, before, after, [80, 100])).toEqual(crossed);
  });

  it.each([
    ['day', '2026-03-01T15:59:59.999Z', '2026-03-01', '2026-02-28T16:00:00.000Z', '2026-03-01T16:00:00.000Z'],
    ['day', '2026-03-01T16:00:00.000Z', '2026-03-02', '2026-03-01T16:00:00.000Z', '2026-03-02T16:00:00.000Z'],
    ['month', '2026-01-31T15:59:59.999Z', '2026-01', '2025-12-31T16:00:00.000Z', '2026-01-31T16:00:00.000Z'],
    ['month', '2026-01-31T16:00:00.000Z', '2026-02', '2026-01-31T16:00:00.000Z', '2026-02-28T16:00:00.000Z'],
    ['month', '2026-12-15T00:00:00.000Z', '2026-12', '2026-11-30T16:00:00.000Z', '2026-12-31T16:00:00.000Z'],
  ] as const)('%s of %s in Shanghai is %s [%s, %s)', (period, at, key, start, end) => {
    const p = periodOf(period, new Date(at), SH);
    expect([p.key, p.start.toISOString(), p.end.toISOString()]).toEqual([key, start, end]);
  });

  it('a DST day in New York is 23 hours long', () => {
    const p = periodOf('day', new Date('2026-03-08T12:00:00Z'), 'America/New_York');
    expect(p.key).toBe('2026-03-08');
    expect(p.end.getTime() - p.start.getTime()).toBe(23 * 3_600_000);
  });

  const rules: BudgetRules = {
    timeZone: SH,
    caps: [
      { scope: 'member', direction: 'earn', period: 'day', limitPoints: 500 },
      { scope: 'store', direction: 'earn', period: 'month', limitPoints: 10_000 },
      { scope: 'member', direction: 'spend', period: 'month', limitPoints: 20_000 },
    ],
    alertPercents: [80, 100],
  };

  it('valid rules have no problems; caps are found by scope and direction', () => {
    expect(budgetRuleProblems(rules)).toEqual([]);
    expect(capsFor(rules, 'member', 'earn').map((c) => c.period)).toEqual(['day']);
    expect(capsFor(rules, 'store', 'spend')).toEqual([]);
  });

  it('lists every problem', () => {
    const bad = {
      timeZone: 'Nowhere/City',
      caps: [
        { scope: 'region', direction: 'earn', period: 'day', limitPoints: 0 },
        { scope: 'member', direction: 'give', period: 'year', limitPoints: 1.5 },
        { scope: 'member', direction: 'earn', period: 'day', limitPoints: 5 },
        { scope: 'member', direction: 'earn', period: 'day', limitPoints: 6 },
      ],
      alertPercents: [90, 80, 101],
    } as unknown as BudgetRules;
    expect(budgetRuleProblems(bad)).toEqual([
      'timeZone "Nowhere/City" is not an IANA time zone',
      'cap 0: scope must be member or store',
      'cap 0: limitPoints must be a whole number 1–1000000000',
      'cap 1: direction must be earn or spend',
      'cap 1: period must be day or month',
      'cap 1: limitPoints must be a whole number 1–1000000000',
      'cap 3: a second member/earn/day cap (one per scope, direction and period)',
      'alertPercents 1: must be ascending',
      'alertPercents 2: must be a whole number 1–100',
    ]);
  });
});
