import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceSessionBill, remainingTopUpRules, topUpOffer } from '../../../shared/rules/session-topup.ts';
import { priceTopUp, validateTopUpRules, type TopUpBonusRule } from '../../../shared/rules/topup-bonus.ts';

const rules: TopUpBonusRule[] = [
  { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000 },
  { id: 'r200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 100 },
  { id: 'r300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 300 },
];
const at = new Date('2026-06-01T10:00:00+08:00');

/** Prices the bills of one session in order, the way kiosk and hub both do. */
function session(bills: number[], withRules = rules, when = at) {
  let credited = 0;
  return bills.map((amountFen) => {
    const price = priceSessionBill(withRules, credited, amountFen, when);
    credited += amountFen;
    return price;
  });
}

describe('top-up bonus across a kiosk cash session: every bill earns what it adds to the session total', () => {
  it.each([
    // bills (fen)                   → bonus per bill,         points per bill,  rule per bill
    [[10_000], [2_000], [0], ['r100']],
    [[9_999], [0], [0], [null]],
    [[5_000, 4_999], [0, 0], [0, 0], [null, null]],
    [[5_000, 5_000], [0, 2_000], [0, 0], [null, 'r100']],
    [[10_000, 10_000], [2_000, 3_000], [0, 100], ['r100', 'r200']],
    [[10_000, 5_000], [2_000, 0], [0, 0], ['r100', null]],
    [[10_000, 10_000, 10_000], [2_000, 3_000, 5_000], [0, 100, 200], ['r100', 'r200', 'r300']],
    [[10_000, 9_999, 1], [2_000, 0, 3_000], [0, 0, 100], ['r100', null, 'r200']],
    [[20_000, 10_000], [5_000, 5_000], [100, 200], ['r200', 'r300']],
    [[30_000, 10_000], [10_000, 0], [300, 0], ['r300', null]],
  ])('bills %j → bonus %j, points %j, rules %j', (bills, bonus, points, ruleIds) => {
    const priced = session(bills);
    expect(priced.map((p) => p.principalFen)).toEqual(bills);
    expect(priced.map((p) => p.bonusFen)).toEqual(bonus);
    expect(priced.map((p) => p.bonusPoints)).toEqual(points);
    expect(priced.map((p) => p.ruleId)).toEqual(ruleIds);
  });

  it('the bills of a session add up to the single top-up of the session total (bonus grows with the bracket)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 }), (bills) => {
        const priced = session(bills);
        const total = priceTopUp(rules, bills.reduce((a, b) => a + b, 0), at);
        expect(priced.reduce((sum, p) => sum + p.bonusFen, 0)).toBe(total.bonusFen);
        expect(priced.reduce((sum, p) => sum + p.bonusPoints, 0)).toBe(total.bonusPoints);
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('a bill never takes bonus back, even under rules whose bonus shrinks with a higher bracket', () => {
    const odd: TopUpBonusRule[] = [
      { id: 'a', thresholdFen: 10_000, bonusFen: 3_000 },
      { id: 'b', thresholdFen: 20_000, bonusFen: 2_500 },
    ];
    expect(session([10_000, 10_000], odd).map((p) => p.bonusFen)).toEqual([3_000, 0]);
  });

  it('the remaining rules are valid rules (the ledger prices a bill with them) and keep the original ids', () => {
    const remaining = remainingTopUpRules(rules, 15_000, at);
    expect(() => validateTopUpRules(remaining)).not.toThrow();
    expect(remaining).toEqual([
      { id: 'r200', thresholdFen: 5_000, bonusFen: 3_000, bonusPoints: 100 },
      { id: 'r300', thresholdFen: 15_000, bonusFen: 8_000, bonusPoints: 300 },
    ]);
  });

  it('refuses a negative or fractional session total', () => {
    expect(() => priceSessionBill(rules, -1, 100, at)).toThrow(RangeError);
    expect(() => priceSessionBill(rules, 0.5, 100, at)).toThrow(RangeError);
  });

  describe('windows: a session is priced at one instant, edges start inclusive, end exclusive', () => {
    const holiday: TopUpBonusRule[] = [
      { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000, validUntil: '2026-02-01T00:00:00+08:00' },
      { id: 'cny100', thresholdFen: 10_000, bonusFen: 3_000, validFrom: '2026-02-01T00:00:00+08:00', validUntil: '2026-02-08T00:00:00+08:00' },
      { id: 'cny200', thresholdFen: 20_000, bonusFen: 8_000, validFrom: '2026-02-01T00:00:00+08:00', validUntil: '2026-02-08T00:00:00+08:00' },
    ];
    it.each([
      ['2026-01-31T23:59:59.999+08:00', [2_000, 0], ['r100', null]],
      ['2026-02-01T00:00:00+08:00', [3_000, 5_000], ['cny100', 'cny200']],
      ['2026-02-07T23:59:59.999+08:00', [3_000, 5_000], ['cny100', 'cny200']],
      ['2026-02-08T00:00:00+08:00', [0, 0], [null, null]],
    ])('at %s two ¥100 bills → %j', (when, bonus, ruleIds) => {
      const priced = session([10_000, 10_000], holiday, new Date(when));
      expect(priced.map((p) => p.bonusFen)).toEqual(bonus);
      expect(priced.map((p) => p.ruleId)).toEqual(ruleIds);
    });
  });
});

describe('the offer on screen: earned so far and the next bracket', () => {
  it.each([
    [0, 0, 0, { thresholdFen: 10_000, missingFen: 10_000, bonusFen: 2_000, bonusPoints: 0 }],
    [9_999, 0, 0, { thresholdFen: 10_000, missingFen: 1, bonusFen: 2_000, bonusPoints: 0 }],
    [10_000, 2_000, 0, { thresholdFen: 20_000, missingFen: 10_000, bonusFen: 5_000, bonusPoints: 100 }],
    [25_000, 5_000, 100, { thresholdFen: 30_000, missingFen: 5_000, bonusFen: 10_000, bonusPoints: 300 }],
    [30_000, 10_000, 300, null],
  ])('%i fen in → earned %i fen %i points, next %j', (creditedFen, bonusFen, bonusPoints, next) => {
    expect(topUpOffer(rules, creditedFen, at)).toEqual({ creditedFen, bonusFen, bonusPoints, next });
  });

  it('skips a bracket that is not active at the session instant, and a higher one that earns no more', () => {
    const withClosed: TopUpBonusRule[] = [
      { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000 },
      { id: 'old150', thresholdFen: 15_000, bonusFen: 9_000, validUntil: '2026-01-01T00:00:00Z' },
      { id: 'flat200', thresholdFen: 20_000, bonusFen: 2_000 },
      { id: 'r300', thresholdFen: 30_000, bonusFen: 10_000 },
    ];
    expect(topUpOffer(withClosed, 10_000, at).next).toMatchObject({ thresholdFen: 30_000, missingFen: 20_000 });
  });
});
