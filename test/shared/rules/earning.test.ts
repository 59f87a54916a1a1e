import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import { earnPoints, validateEarningRules, type EarningRules } from '../../../shared/rules/earning.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { pointsMultipliersByTier } from '../../../shared/rules/tiers.ts';

const plain: EarningRules = {
  brackets: [
    { minAmountFen: 10_000, points: 10 },
    { minAmountFen: 20_000, points: 25 },
  ],
};
const ordinary = new Date('2026-06-01T10:00:00+08:00');
const buy = (amountFen: number, extra: Partial<{ category: string; tier: string; at: Date }> = {}) => ({
  amountFen, category: 'grocery', tier: 'standard', at: ordinary, ...extra,
});

describe('earning: amount brackets, best bracket wins', () => {
  it.each([
    [0, 0, null],
    [9_999, 0, null],
    [10_000, 10, 10_000],
    [19_999, 10, 10_000],
    [20_000, 25, 20_000],
    [1_000_000, 25, 20_000],
  ])('%i fen → %i points (bracket %s)', (amountFen, points, bracket) => {
    const result = earnPoints(plain, buy(amountFen));
    expect(result.points).toBe(points);
    expect(result.breakdown).toMatchObject({ bracketTable: 'default', bracketMinAmountFen: bracket, basePoints: points });
  });

  it('a category with its own table uses it instead of the default table', () => {
    const rules: EarningRules = { ...plain, categoryBrackets: { tobacco: [{ minAmountFen: 50_000, points: 1 }] } };
    expect(earnPoints(rules, buy(20_000, { category: 'tobacco' }))).toMatchObject({ points: 0, breakdown: { bracketTable: 'category', bracketMinAmountFen: null } });
    expect(earnPoints(rules, buy(50_000, { category: 'tobacco' })).points).toBe(1);
    expect(earnPoints(rules, buy(20_000, { category: 'grocery' })).points).toBe(25);
    // A category name that happens to be an Object.prototype key is still just "no override".
    expect(earnPoints(rules, buy(20_000, { category: 'toString' })).points).toBe(25);
  });
});

describe('earning: campaigns, highest multiplier wins, windows start inclusive / end exclusive', () => {
  const rules: EarningRules = {
    ...plain,
    campaigns: [
      { id: 'national-day', multiplierPercent: 200, validFrom: '2026-10-01T00:00:00+08:00', validUntil: '2026-10-08T00:00:00+08:00' },
      { id: 'new-tea', multiplierPercent: 300, categories: ['new-product'], validFrom: '2026-10-05T00:00:00+08:00', validUntil: '2026-11-01T00:00:00+08:00' },
      { id: 'weekend-bonus', multiplierPercent: 150, validFrom: '2026-10-03T00:00:00+08:00', validUntil: '2026-10-05T00:00:00+08:00' },
    ],
  };
  it.each([
    ['before the holiday', '2026-09-30T23:59:59.999+08:00', 'grocery', 10, null],
    ['holiday starts (inclusive)', '2026-10-01T00:00:00+08:00', 'grocery', 20, 'national-day'],
    ['holiday ×2 beats weekend ×1.5', '2026-10-03T12:00:00+08:00', 'grocery', 20, 'national-day'],
    ['holiday ×2 and new product ×3 → ×3, not ×6', '2026-10-06T12:00:00+08:00', 'new-product', 30, 'new-tea'],
    ['new product campaign does not cover other categories', '2026-10-06T12:00:00+08:00', 'grocery', 20, 'national-day'],
    ['holiday ends (exclusive)', '2026-10-08T00:00:00+08:00', 'grocery', 10, null],
    ['new product alone after the holiday', '2026-10-08T00:00:00+08:00', 'new-product', 30, 'new-tea'],
  ])('%s', (_name, at, category, points, campaignId) => {
    const result = earnPoints(rules, buy(10_000, { category, at: new Date(at) }));
    expect(result.points).toBe(points);
    expect(result.breakdown.campaignId).toBe(campaignId);
  });
});

describe('earning: tier multiplier and rounding (one floor at the end)', () => {
  const rules: EarningRules = {
    brackets: [{ minAmountFen: 100, points: 1 }, { minAmountFen: 10_000, points: 10 }, { minAmountFen: 20_000, points: 25 }],
    campaigns: [{ id: 'x150', multiplierPercent: 150, categories: ['promo'] }],
    tierMultiplierPercent: { silver: 120, gold: 150, odd: 133 },
  };
  it.each([
    ['standard (not listed) ×1', 20_000, 'grocery', 'standard', 25],
    ['gold 25 × 1.5 = 37.5 → 37', 20_000, 'grocery', 'gold', 37],
    ['silver 25 × 1.2 = 30 exactly', 20_000, 'grocery', 'silver', 30],
    ['gold 1 × 1.5 = 1.5 → 1', 100, 'grocery', 'gold', 1],
    ['silver 1 × 1.2 = 1.2 → 1', 100, 'grocery', 'silver', 1],
    ['odd 10 × 1.33 = 13.3 → 13', 10_000, 'grocery', 'odd', 13],
    // Single rounding: 25 × 1.5 × 1.5 = 56.25 → 56; flooring after each step would give floor(37 × 1.5) = 55.
    ['campaign ×1.5 and gold ×1.5 on 25 → 56 (one rounding)', 20_000, 'promo', 'gold', 56],
    ['campaign ×1.5 and gold ×1.5 on 1 → 2.25 → 2', 100, 'promo', 'gold', 2],
  ])('%s', (_name, amountFen, category, tier, points) => {
    expect(earnPoints(rules, buy(amountFen, { category, tier })).points).toBe(points);
  });

  it('takes tier multipliers from the tier benefits', () => {
    const withTiers: EarningRules = { ...plain, tierMultiplierPercent: pointsMultipliersByTier() };
    expect(earnPoints(withTiers, buy(20_000, { tier: 'gold' })).points).toBe(37);
    expect(earnPoints(withTiers, buy(20_000, { tier: 'diamond' })).points).toBe(50);
  });
});

describe('earning: invalid rule sets are rejected', () => {
  it.each<[string, EarningRules]>([
    ['zero threshold', { brackets: [{ minAmountFen: 0, points: 1 }] }],
    ['fractional threshold', { brackets: [{ minAmountFen: 99.5, points: 1 }] }],
    ['negative points', { brackets: [{ minAmountFen: 100, points: -1 }] }],
    ['fractional points', { brackets: [{ minAmountFen: 100, points: 1.5 }] }],
    ['duplicate threshold', { brackets: [{ minAmountFen: 100, points: 1 }, { minAmountFen: 100, points: 2 }] }],
    ['bad category table', { brackets: [], categoryBrackets: { x: [{ minAmountFen: -5, points: 1 }] } }],
    ['campaign below ×1', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 50 }] }],
    ['fractional campaign multiplier', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 150.5 }] }],
    ['campaign multiplier too large', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 10_001 }] }],
    ['duplicate campaign id', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 200 }, { id: 'c', multiplierPercent: 300 }] }],
    ['empty campaign categories', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 200, categories: [] }] }],
    ['campaign window ends before it starts', { brackets: [], campaigns: [{ id: 'c', multiplierPercent: 200, validFrom: '2026-02-02T00:00:00Z', validUntil: '2026-02-01T00:00:00Z' }] }],
    ['zero tier multiplier', { brackets: [], tierMultiplierPercent: { gold: 0 } }],
    ['fractional tier multiplier', { brackets: [], tierMultiplierPercent: { gold: 1.5 } }],
  ])('%s', (_name, rules) => {
    expect(() => validateEarningRules(rules)).toThrow(RuleSetError);
    expect(() => earnPoints(rules, buy(10_000))).toThrow(RuleSetError);
  });

  it('refuses an invalid instant', () => {
    expect(() => earnPoints(plain, buy(10_000, { at: new Date('nope') }))).toThrow(TypeError);
  });

  it.each([-1, 0.5, Number.NaN])('refuses a purchase of %s fen', (amountFen) => {
    expect(() => earnPoints(plain, buy(amountFen))).toThrow(InvalidAmountError);
  });
});

describe('earning: properties', () => {
  const brackets = fc
    .uniqueArray(fc.integer({ min: 1, max: 10_000_000 }), { maxLength: 6 })
    .chain((ts) => fc.tuple(fc.constant(ts), fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: ts.length, maxLength: ts.length })))
    .map(([ts, ps]) => ts.map((minAmountFen, i) => ({ minAmountFen, points: ps[i]! })));

  it('points are a whole number ≥ 0, exactly floor(base × campaign% × tier% / 10000), base from the best bracket', () => {
    fc.assert(
      fc.property(
        brackets,
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 20_000_000 }),
        fc.integer({ min: 0, max: 20_000_000 }),
        (table, campaignPct, tierPct, a, b) => {
          const rules: EarningRules = { brackets: table, campaigns: [{ id: 'c', multiplierPercent: campaignPct }], tierMultiplierPercent: { t: tierPct } };
          const small = earnPoints(rules, buy(Math.min(a, b), { tier: 't' }));
          const large = earnPoints(rules, buy(Math.max(a, b), { tier: 't' }));
          for (const r of [small, large]) {
            expect(Number.isSafeInteger(r.points) && r.points >= 0).toBe(true);
            const exact = BigInt(r.breakdown.basePoints) * BigInt(campaignPct) * BigInt(tierPct);
            expect(BigInt(r.points) * 10_000n <= exact && exact < BigInt(r.points + 1) * 10_000n).toBe(true);
          }
          const best = table.filter((x) => x.minAmountFen <= Math.max(a, b)).sort((x, y) => y.minAmountFen - x.minAmountFen)[0];
          expect(large.breakdown.basePoints).toBe(best?.points ?? 0);
        },
      ),
    );
  });
});
