import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import {
  allocate,
  CheckoutInputError,
  planPayment,
  priceBasket,
  settleCheckout,
  type CheckoutLine,
  type CheckoutRules,
} from '../../../shared/rules/checkout.ts';
import type { CouponTemplate } from '../../../shared/rules/coupons.ts';
import { DEFAULT_TIER_RULES, type TierId } from '../../../shared/rules/tiers.ts';

const rules: CheckoutRules = {
  tiers: DEFAULT_TIER_RULES,
  earning: {
    brackets: [
      { minAmountFen: 10_000, points: 10 },
      { minAmountFen: 20_000, points: 25 },
    ],
    categoryBrackets: { drinks: [{ minAmountFen: 1_000, points: 3 }] },
    tierMultiplierPercent: { standard: 100, silver: 120, gold: 150, diamond: 200 },
  },
};
const at = new Date('2026-06-01T10:00:00+08:00');
const base = { storeId: 'sh-xuhui', at };
const line = (unitPriceFen: number, quantity = 1, category = 'food', sku = `sku-${unitPriceFen}`): CheckoutLine => ({
  sku,
  category,
  unitPriceFen,
  quantity,
});
const manJian: CouponTemplate = {
  nameZh: '满100减20',
  nameEn: '¥20 off ¥100',
  offer: { kind: 'amount_off', amountOffFen: 2_000 },
  conditions: { minSpendFen: 10_000 },
};

describe('tier discount: per line, floored to the fen', () => {
  it.each([
    ['standard', 10_000, 0],
    ['silver', 10_000, 200], // 2%
    ['gold', 9_999, 499], // 5% of 99.99 = 4.9995 → 4.99
    ['diamond', 19, 1], // 10% of 0.19 = 0.019 → 0.01
    ['diamond', 9, 0],
  ] as const)('%s on %i fen → %i fen off', (tier, price, off) => {
    const priced = priceBasket(DEFAULT_TIER_RULES, { ...base, tier, lines: [line(price)] });
    expect(priced).toMatchObject({ subtotalFen: price, tierDiscountFen: off, couponDiscountFen: 0, discountFen: off, payableFen: price - off, coupon: null });
  });

  it('unit price × quantity per line', () => {
    const priced = priceBasket(DEFAULT_TIER_RULES, { ...base, tier: 'gold', lines: [line(333, 3), line(1_000, 2)] });
    expect(priced.lines.map((l) => [l.grossFen, l.tierDiscountFen, l.netFen])).toEqual([
      [999, 49, 950],
      [2_000, 100, 1_900],
    ]);
    expect(priced.payableFen).toBe(2_850);
  });
});

describe('the coupon threshold is checked on the amount after the tier discount', () => {
  it.each([
    ['standard', 10_000, true, 8_000],
    ['silver', 10_000, false, 9_800], // ¥100 − 2% = ¥98 < ¥100: the 满100减20 coupon does not apply
    ['silver', 10_205, true, 8_001], // 10205 − 204 = 10001 ≥ 10000
    ['silver', 10_204, true, 8_000], // 10204 − 204 = 10000 exactly
    ['silver', 10_203, false, 9_999], // 10203 − 204 = 9999
  ] as const)('%s, %i fen basket: coupon applies %s, payable %i', (tier, price, applies, payable) => {
    const priced = priceBasket(DEFAULT_TIER_RULES, { ...base, tier, lines: [line(price)], coupon: manJian });
    expect(priced.coupon?.applies).toBe(applies);
    expect(priced.payableFen).toBe(payable);
  });

  it('spreads the coupon over eligible lines by amount, largest remainder first', () => {
    const drinksHalf: CouponTemplate = { ...manJian, offer: { kind: 'amount_off', amountOffFen: 1_000 }, conditions: { categories: ['drinks'] } };
    const priced = priceBasket(DEFAULT_TIER_RULES, {
      ...base,
      tier: 'standard',
      lines: [line(5_000, 1, 'food'), line(1_000, 1, 'drinks', 'a'), line(2_000, 1, 'drinks', 'b')],
      coupon: drinksHalf,
    });
    expect(priced.lines.map((l) => l.couponDiscountFen)).toEqual([0, 333, 667]);
    expect(priced.couponDiscountFen).toBe(1_000);
    expect(priced.payableFen).toBe(7_000);
  });
});

describe('allocate', () => {
  it.each([
    [10, [1, 1, 1], [4, 3, 3]],
    [1_000, [1_000, 2_000], [333, 667]],
    [5, [0, 3, 0], [0, 5, 0]],
    [0, [1, 2], [0, 0]],
    [7, [0, 0], [0, 0]],
  ])('%i over %j → %j', (total, weights, expected) => {
    expect(allocate(total, weights)).toEqual(expected);
  });
});

describe('payment plan: parts must sum exactly to the payable amount', () => {
  it.each([
    // payable, tenders, pointsPerYuan, points taken
    [10_000, { cashFen: 10_000 }, 100, 0],
    [10_000, { pointsFen: 500, storedValueFen: 4_500, cashFen: 5_000 }, 100, 500],
    [10_000, { pointsFen: 10_000 }, 100, 10_000],
    [10_000, { pointsFen: 1_000, cashFen: 9_000 }, 90, 900], // gold: 90 points per ¥1
    [10_000, { pointsFen: 5, cashFen: 9_995 }, 90, 5], // 4.5 points → 5 (rounded up)
    [10_000, { pointsFen: 1, cashFen: 9_999 }, 80, 1], // 0.8 → 1
    [0, {}, 100, 0],
  ])('payable %i with %j at %i points/¥ → %i points', (payable, tenders, ratio, points) => {
    const plan = planPayment(payable, tenders, ratio);
    expect(plan.pointsSpent).toBe(points);
    expect(plan.pointsFen + plan.storedValueFen + plan.cashFen).toBe(payable);
    expect(plan.moneyFen).toBe(plan.storedValueFen + plan.cashFen);
  });

  it.each([
    [10_000, { cashFen: 9_999 }, CheckoutInputError],
    [10_000, { cashFen: 10_001 }, CheckoutInputError],
    [10_000, { cashFen: -1, storedValueFen: 10_001 }, InvalidAmountError],
    [10_000, { cashFen: 100.5 }, InvalidAmountError],
  ])('payable %i with %j is refused', (payable, tenders, error) => {
    expect(() => planPayment(payable, tenders, 100)).toThrow(error);
  });
});

describe('points are earned on money only, per category', () => {
  it.each([
    // lines, tenders, points earned (standard tier)
    [[line(20_000)], { cashFen: 20_000 }, 25],
    [[line(20_000)], { pointsFen: 10_000, cashFen: 10_000 }, 10],
    [[line(20_000)], { pointsFen: 20_000 }, 0],
    [[line(20_000)], { storedValueFen: 19_999, pointsFen: 1 }, 10],
    // ¥150 food + ¥50 drinks: ¥150 earns 10, drinks table ¥50 earns 3
    [[line(15_000), line(5_000, 1, 'drinks')], { cashFen: 20_000 }, 13],
  ])('%j paid with %j → %i points', (lines, tenders, points) => {
    expect(settleCheckout(rules, { ...base, tier: 'standard', lines, tenders }).pointsEarned).toBe(points);
  });

  it('tier multiplier applies (gold ×1.5, floored): ¥200 after 5% off = ¥190 → 10 × 1.5 = 15', () => {
    const result = settleCheckout(rules, { ...base, tier: 'gold', lines: [line(20_000)], tenders: { cashFen: 19_000 } });
    expect(result.pointsEarned).toBe(15);
    expect(result.earnedByCategory).toEqual([{ category: 'food', moneyFen: 19_000, points: 15 }]);
  });
});

describe('invalid baskets', () => {
  it.each([
    [[], CheckoutInputError],
    [[line(100, 0)], CheckoutInputError],
    [[line(100, 1.5)], CheckoutInputError],
    [[line(-1)], InvalidAmountError],
    [[{ ...line(100), sku: '' }], CheckoutInputError],
    [[line(1_000_000_000, 2)], InvalidAmountError],
    [[line(600_000_000), line(600_000_000)], InvalidAmountError],
  ])('%j is refused', (lines, error) => {
    expect(() => priceBasket(DEFAULT_TIER_RULES, { ...base, tier: 'standard', lines })).toThrow(error);
  });
});

describe('properties', () => {
  const tierArb = fc.constantFrom<TierId>('standard', 'silver', 'gold', 'diamond');
  const lineArb = fc.record({
    sku: fc.string({ minLength: 1, maxLength: 5 }),
    category: fc.constantFrom('food', 'drinks', 'goods'),
    unitPriceFen: fc.integer({ min: 0, max: 500_000 }),
    quantity: fc.integer({ min: 1, max: 20 }),
  });
  const couponArb = fc.option(
    fc.record({
      nameZh: fc.constant('券'),
      nameEn: fc.constant('Coupon'),
      offer: fc.oneof(
        fc.record({ kind: fc.constant('amount_off' as const), amountOffFen: fc.integer({ min: 1, max: 100_000 }) }),
        fc.record({ kind: fc.constant('percent_off' as const), percentOff: fc.integer({ min: 1, max: 100 }) }),
      ),
      conditions: fc.record(
        { minSpendFen: fc.integer({ min: 1, max: 200_000 }), categories: fc.constant(['drinks', 'goods']) },
        { requiredKeys: [] },
      ),
    }),
    { nil: undefined },
  );

  it('payable never negative, discount never exceeds subtotal, lines sum to payable, parts sum to payable', () => {
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 1, maxLength: 8 }),
        tierArb,
        couponArb,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (lines, tier, coupon, pointsShare, storedShare) => {
          const price = priceBasket(DEFAULT_TIER_RULES, { ...base, tier, lines, ...(coupon ? { coupon } : {}) });
          expect(price.payableFen).toBeGreaterThanOrEqual(0);
          expect(price.discountFen).toBeLessThanOrEqual(price.subtotalFen);
          expect(price.lines.reduce((sum, l) => sum + l.netFen, 0)).toBe(price.payableFen);
          for (const l of price.lines) expect(l.netFen).toBeGreaterThanOrEqual(0);
          const pointsFen = Math.floor((price.payableFen * pointsShare) / 100);
          const storedValueFen = Math.floor(((price.payableFen - pointsFen) * storedShare) / 100);
          const tenders = { pointsFen, storedValueFen, cashFen: price.payableFen - pointsFen - storedValueFen };
          const result = settleCheckout(rules, { ...base, tier, lines, tenders, ...(coupon ? { coupon } : {}) });
          const { payment } = result;
          expect(payment.pointsFen + payment.storedValueFen + payment.cashFen).toBe(price.payableFen);
          expect(result.earnedByCategory.reduce((sum, c) => sum + c.moneyFen, 0)).toBe(payment.moneyFen);
          expect(result.pointsEarned).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
