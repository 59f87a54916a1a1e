import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import {
  DEFAULT_TIER_RULES, pointsMultipliersByTier, progressToNext, tierById, tierFor, upgradeOnSpend, validateTierRules,
  type TierRules,
} from '../../../shared/rules/tiers.ts';

describe('tiers: 普通 / 银卡 / 金卡 / 钻石 by spend within the window', () => {
  it('the default program is valid and bilingual', () => {
    expect(() => validateTierRules(DEFAULT_TIER_RULES)).not.toThrow();
    expect(DEFAULT_TIER_RULES.tiers.map((t) => `${t.nameZh} ${t.nameEn}`)).toEqual([
      '普通 Standard', '银卡 Silver', '金卡 Gold', '钻石 Diamond',
    ]);
  });

  it.each([
    [0, 'standard'],
    [99_999, 'standard'],
    [100_000, 'silver'],
    [499_999, 'silver'],
    [500_000, 'gold'],
    [1_999_999, 'gold'],
    [2_000_000, 'diamond'],
    [900_000_000, 'diamond'],
  ])('%i fen → %s', (spendFen, id) => {
    expect(tierFor(spendFen).id).toBe(id);
  });

  it.each([
    [0, 'silver', 100_000],
    [99_999, 'silver', 1],
    [100_000, 'gold', 400_000],
    [350_000, 'gold', 150_000],
    [500_000, 'diamond', 1_500_000],
    [1_999_999, 'diamond', 1],
  ])('progress from %i fen: %s in %i fen', (spendFen, next, remainingFen) => {
    const progress = progressToNext(spendFen);
    expect(progress?.nextTier.id).toBe(next);
    expect(progress?.remainingFen).toBe(remainingFen);
  });

  it.each([2_000_000, 5_000_000])('no progress at the top tier (%i fen)', (spendFen) => {
    expect(progressToNext(spendFen)).toBeNull();
  });

  it.each([
    ['standard', 99_999, 'standard'],
    ['standard', 100_000, 'silver'],
    ['standard', 2_000_000, 'diamond'],
    ['gold', 0, 'gold'],
    ['gold', 100_000, 'gold'],
    ['gold', 2_000_000, 'diamond'],
  ] as const)('upgrade is immediate and never lowers: %s with %i fen → %s', (current, spendFen, id) => {
    expect(upgradeOnSpend(current, spendFen).id).toBe(id);
  });

  it.each([
    ['standard', 0, 100, 100],
    ['silver', 2, 120, 100],
    ['gold', 5, 150, 90],
    ['diamond', 10, 200, 80],
  ] as const)('%s benefits: %i%% off, points ×%i%%, %i points per ¥1', (id, off, mult, ratio) => {
    expect(tierById(id).benefits).toEqual({ discountPercentOff: off, pointsMultiplierPercent: mult, pointsPerYuan: ratio });
  });

  it('exposes the points multipliers in the shape earning rules take', () => {
    expect(pointsMultipliersByTier()).toEqual({ standard: 100, silver: 120, gold: 150, diamond: 200 });
  });

  it.each([-1, 0.5, Number.NaN])('refuses a spend of %s fen', (spendFen) => {
    expect(() => tierFor(spendFen)).toThrow(InvalidAmountError);
    expect(() => progressToNext(spendFen)).toThrow(InvalidAmountError);
  });

  describe('invalid tier rules are rejected', () => {
    const base = DEFAULT_TIER_RULES;
    const tiers = base.tiers;
    const withTier = (index: number, patch: object): TierRules => ({
      ...base,
      tiers: tiers.map((t, i) => (i === index ? { ...t, ...patch } : t)),
    });
    const withBenefit = (index: number, patch: object): TierRules =>
      withTier(index, { benefits: { ...tiers[index]!.benefits, ...patch } });
    it.each<[string, TierRules]>([
      ['no tiers', { ...base, tiers: [] }],
      ['zero window', { ...base, spendWindowDays: 0 }],
      ['lowest tier not at 0', withTier(0, { minSpendFen: 1 })],
      ['thresholds not ascending', withTier(2, { minSpendFen: 100_000 })],
      ['fractional threshold', withTier(1, { minSpendFen: 100_000.5 })],
      ['duplicate id', withTier(1, { id: 'standard' })],
      ['missing Chinese name', withTier(1, { nameZh: '' })],
      ['discount over 100%', withBenefit(1, { discountPercentOff: 101 })],
      ['fractional discount', withBenefit(1, { discountPercentOff: 2.5 })],
      ['zero multiplier', withBenefit(1, { pointsMultiplierPercent: 0 })],
      ['zero redemption ratio', withBenefit(1, { pointsPerYuan: 0 })],
    ])('%s', (_name, rules) => {
      expect(() => validateTierRules(rules)).toThrow(RuleSetError);
      expect(() => tierFor(0, rules)).toThrow(RuleSetError);
    });
  });

  it('property: spending the remaining amount reaches exactly the next tier; one fen less does not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_000_000 }), (spendFen) => {
        const progress = progressToNext(spendFen);
        if (progress === null) {
          expect(tierFor(spendFen).id).toBe('diamond');
          return;
        }
        expect(progress.remainingFen).toBeGreaterThan(0);
        expect(tierFor(spendFen + progress.remainingFen).id).toBe(progress.nextTier.id);
        expect(tierFor(spendFen + progress.remainingFen - 1).id).toBe(tierFor(spendFen).id);
      }),
    );
  });
});
