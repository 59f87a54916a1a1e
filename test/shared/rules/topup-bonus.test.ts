import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { priceTopUp, validateTopUpRules, type TopUpBonusRule } from '../../../shared/rules/topup-bonus.ts';

const everyday: TopUpBonusRule[] = [
  { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000 },
  { id: 'r200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 100 },
  { id: 'r300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 300 },
];
const now = new Date('2026-06-01T10:00:00+08:00');

describe('top-up bonus: best bracket wins (充100送20, 充200送50, 充300送100)', () => {
  it.each([
    [1, 0, 0, null],
    [9_999, 0, 0, null],
    [10_000, 2_000, 0, 'r100'],
    [10_001, 2_000, 0, 'r100'],
    [19_999, 2_000, 0, 'r100'],
    [20_000, 5_000, 100, 'r200'],
    [25_000, 5_000, 100, 'r200'],
    [29_999, 5_000, 100, 'r200'],
    [30_000, 10_000, 300, 'r300'],
    [100_000, 10_000, 300, 'r300'],
  ])('%i fen → bonus %i fen, %i points, rule %s', (amountFen, bonusFen, bonusPoints, ruleId) => {
    expect(priceTopUp(everyday, amountFen, now)).toEqual({ principalFen: amountFen, bonusFen, bonusPoints, ruleId });
  });

  it('does not depend on the order the rules are listed in', () => {
    expect(priceTopUp([...everyday].reverse(), 25_000, now).ruleId).toBe('r200');
  });

  it('refuses an invalid instant even when no rule has a window', () => {
    expect(() => priceTopUp([], 10_000, new Date('nope'))).toThrow(TypeError);
  });

  it('no rules: principal only', () => {
    expect(priceTopUp([], 50_000, now)).toEqual({ principalFen: 50_000, bonusFen: 0, bonusPoints: 0, ruleId: null });
  });

  describe('a holiday bracket beside the everyday one, windows start inclusive, end exclusive', () => {
    const rules: TopUpBonusRule[] = [
      { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000, validUntil: '2026-02-01T00:00:00+08:00' },
      { id: 'cny100', thresholdFen: 10_000, bonusFen: 3_000, validFrom: '2026-02-01T00:00:00+08:00', validUntil: '2026-02-08T00:00:00+08:00' },
      { id: 'r100b', thresholdFen: 10_000, bonusFen: 2_000, validFrom: '2026-02-08T00:00:00+08:00' },
    ];
    it.each([
      ['2026-01-31T23:59:59.999+08:00', 'r100', 2_000],
      ['2026-02-01T00:00:00+08:00', 'cny100', 3_000],
      ['2026-02-07T23:59:59.999+08:00', 'cny100', 3_000],
      ['2026-02-08T00:00:00+08:00', 'r100b', 2_000],
    ])('at %s → %s', (at, ruleId, bonusFen) => {
      expect(priceTopUp(rules, 10_000, new Date(at))).toMatchObject({ ruleId, bonusFen });
    });

    it('an expired higher bracket does not win over an active lower one', () => {
      const withOld = [...everyday.slice(0, 1), { id: 'old300', thresholdFen: 30_000, bonusFen: 99_000, validUntil: '2026-01-01T00:00:00Z' }];
      expect(priceTopUp(withOld, 30_000, now).ruleId).toBe('r100');
    });
  });

  describe('invalid rule sets are rejected', () => {
    it.each<[string, TopUpBonusRule[]]>([
      ['zero threshold', [{ id: 'a', thresholdFen: 0, bonusFen: 1 }]],
      ['negative threshold', [{ id: 'a', thresholdFen: -100, bonusFen: 1 }]],
      ['fractional threshold', [{ id: 'a', thresholdFen: 100.5, bonusFen: 1 }]],
      ['negative bonus', [{ id: 'a', thresholdFen: 100, bonusFen: -1 }]],
      ['fractional bonus', [{ id: 'a', thresholdFen: 100, bonusFen: 0.5 }]],
      ['negative bonus points', [{ id: 'a', thresholdFen: 100, bonusFen: 0, bonusPoints: -5 }]],
      ['fractional bonus points', [{ id: 'a', thresholdFen: 100, bonusFen: 0, bonusPoints: 1.5 }]],
      ['duplicate threshold', [{ id: 'a', thresholdFen: 100, bonusFen: 1 }, { id: 'b', thresholdFen: 100, bonusFen: 2 }]],
      ['duplicate id', [{ id: 'a', thresholdFen: 100, bonusFen: 1 }, { id: 'a', thresholdFen: 200, bonusFen: 2 }]],
      ['empty id', [{ id: '', thresholdFen: 100, bonusFen: 1 }]],
      ['bad timestamp', [{ id: 'a', thresholdFen: 100, bonusFen: 1, validFrom: '2026-02-01' }]],
      ['empty window', [{ id: 'a', thresholdFen: 100, bonusFen: 1, validFrom: '2026-02-01T00:00:00Z', validUntil: '2026-02-01T00:00:00Z' }]],
      ['same threshold, overlapping windows', [
        { id: 'a', thresholdFen: 100, bonusFen: 1, validUntil: '2026-02-02T00:00:00Z' },
        { id: 'b', thresholdFen: 100, bonusFen: 2, validFrom: '2026-02-01T00:00:00Z' },
      ]],
    ])('%s', (_name, rules) => {
      expect(() => validateTopUpRules(rules)).toThrow(RuleSetError);
      expect(() => priceTopUp(rules, 10_000, now)).toThrow(RuleSetError);
    });

    it('lists every problem, not only the first', () => {
      try {
        validateTopUpRules([{ id: 'a', thresholdFen: 0, bonusFen: -1 }]);
        expect.unreachable();
      } catch (error) {
        expect((error as RuleSetError).problems).toHaveLength(2);
        expect((error as Error).message).toMatch(/thresholdFen.*bonusFen/);
      }
    });

    it.each([0, -1, 10.5, Number.NaN, 2 ** 53])('refuses a top-up of %s fen', (amountFen) => {
      expect(() => priceTopUp(everyday, amountFen, now)).toThrow(InvalidAmountError);
    });
  });

  it('property: principal is the amount paid, bonus is never negative and is that of the best reached bracket', () => {
    const ruleSet = fc
      .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 8 })
      .chain((thresholds) =>
        fc.tuple(
          fc.constant(thresholds),
          fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: thresholds.length, maxLength: thresholds.length }),
          fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: thresholds.length, maxLength: thresholds.length }),
        ),
      )
      .map(([thresholds, bonuses, points]) =>
        thresholds.map((thresholdFen, i): TopUpBonusRule => ({ id: `r${i}`, thresholdFen, bonusFen: bonuses[i]!, bonusPoints: points[i]! })),
      );
    fc.assert(
      fc.property(ruleSet, fc.integer({ min: 1, max: 2_000_000 }), (rules, amountFen) => {
        const price = priceTopUp(rules, amountFen, now);
        expect(price.principalFen).toBe(amountFen);
        expect(price.bonusFen).toBeGreaterThanOrEqual(0);
        expect(price.bonusPoints).toBeGreaterThanOrEqual(0);
        expect(Number.isSafeInteger(price.bonusFen) && Number.isSafeInteger(price.bonusPoints)).toBe(true);
        const reached = rules.filter((r) => r.thresholdFen <= amountFen);
        if (reached.length === 0) expect(price.ruleId).toBeNull();
        else {
          const best = reached.reduce((a, b) => (b.thresholdFen > a.thresholdFen ? b : a));
          expect(price.ruleId).toBe(best.id);
          expect(price.bonusFen).toBe(best.bonusFen);
        }
      }),
    );
  });
});
