import { describe, expect, it } from 'vitest';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import {
  couponDiscount,
  couponTemplateProblems,
  describeOffer,
  inSegment,
  type CouponBasketLine,
  type CouponTemplate,
} from '../../../shared/rules/coupons.ts';

const at = new Date('2026-06-01T10:00:00+08:00');
const context = { tier: 'silver', storeId: 'sh-xuhui', at };
const basket = (...amounts: number[]): CouponBasketLine[] => amounts.map((amountFen) => ({ category: 'food', amountFen }));

/** 满100减20 */
const manJian: CouponTemplate = {
  nameZh: '满100减20',
  nameEn: '¥20 off ¥100',
  offer: { kind: 'amount_off', amountOffFen: 2_000 },
  conditions: { minSpendFen: 10_000 },
};
const percent = (percentOff: number, maxDiscountFen?: number): CouponTemplate => ({
  nameZh: '折扣券',
  nameEn: 'Discount',
  offer: { kind: 'percent_off', percentOff, ...(maxDiscountFen === undefined ? {} : { maxDiscountFen }) },
  conditions: {},
});

describe('amount off with a threshold (满100减20): the threshold is inclusive', () => {
  it.each([
    [[9_999], null],
    [[10_000], 2_000],
    [[5_000, 5_000], 2_000],
    [[30_000], 2_000],
  ])('basket %j → discount %s fen', (amounts, discountFen) => {
    const outcome = couponDiscount(manJian, basket(...amounts), context);
    if (discountFen !== null) expect(outcome).toEqual({ applies: true, discountFen, eligibleFen: amounts.reduce((a, b) => a + b) });
    else expect(outcome).toMatchObject({ applies: false, reason: { code: 'min_spend' } });
  });

  it('says how much more to spend, in both languages', () => {
    expect(couponDiscount(manJian, basket(9_950), context)).toEqual({
      applies: false,
      reason: { code: 'min_spend', zh: '再消费¥0.50可用此券', en: 'Spend ¥0.50 more to use this coupon' },
    });
  });

  it('never takes off more than the eligible amount (立减 ¥20 on a ¥5 basket gives ¥5)', () => {
    const liJian: CouponTemplate = { ...manJian, conditions: {} };
    expect(couponDiscount(liJian, basket(500), context)).toEqual({ applies: true, discountFen: 500, eligibleFen: 500 });
  });
});

describe('percentage off: floored to the fen, optional cap', () => {
  it.each([
    [10, undefined, 9_999, 999], // 999.9 → 999
    [10, undefined, 10_000, 1_000],
    [15, undefined, 1, 0], // 0.15 fen → 0
    [15, undefined, 7, 1], // 1.05 → 1
    [33, undefined, 303, 99], // 99.99 → 99
    [20, 1_000, 4_999, 999],
    [20, 1_000, 5_000, 1_000], // exactly the cap
    [20, 1_000, 50_000, 1_000], // capped
    [100, undefined, 1_234, 1_234], // free
  ])('%i%% off (cap %s) on %i fen → %i fen', (percentOff, cap, amount, discountFen) => {
    expect(couponDiscount(percent(percentOff, cap), basket(amount), context)).toEqual({ applies: true, discountFen, eligibleFen: amount });
  });
});

describe('conditions', () => {
  const window = { validFrom: '2026-06-01T00:00:00+08:00', validUntil: '2026-07-01T00:00:00+08:00' };
  const windowed: CouponTemplate = { ...manJian, conditions: { ...manJian.conditions, ...window } };

  it.each([
    ['2026-05-31T23:59:59.999+08:00', 'not_yet_valid'],
    ['2026-06-01T00:00:00+08:00', null],
    ['2026-06-30T23:59:59.999+08:00', null],
    ['2026-07-01T00:00:00+08:00', 'expired'],
  ])('validity window at %s → %s (start inclusive, end exclusive)', (instant, code) => {
    const outcome = couponDiscount(windowed, basket(10_000), { ...context, at: new Date(instant) });
    if (code === null) expect(outcome.applies).toBe(true);
    else expect(outcome).toMatchObject({ applies: false, reason: { code } });
  });

  it('tiers and stores restrict who and where', () => {
    const gold = { ...manJian, conditions: { ...manJian.conditions, tiers: ['gold', 'diamond'] } };
    expect(couponDiscount(gold, basket(10_000), context)).toMatchObject({ applies: false, reason: { code: 'tier' } });
    expect(couponDiscount(gold, basket(10_000), { ...context, tier: 'gold' }).applies).toBe(true);
    const oneStore = { ...manJian, conditions: { ...manJian.conditions, storeIds: ['bj-chaoyang'] } };
    expect(couponDiscount(oneStore, basket(10_000), context)).toMatchObject({
      applies: false,
      reason: { code: 'store', zh: '此券不能在本店使用', en: 'This coupon cannot be used at this store' },
    });
  });

  it('categories: only eligible lines count towards the minimum spend and the discount', () => {
    const drinks: CouponTemplate = { ...percent(50), conditions: { categories: ['drinks'], minSpendFen: 1_000 } };
    const mixed = [
      { category: 'food', amountFen: 10_000 },
      { category: 'drinks', amountFen: 999 },
    ];
    expect(couponDiscount(drinks, mixed, context)).toMatchObject({ applies: false, reason: { code: 'min_spend' } });
    expect(couponDiscount(drinks, [...mixed, { category: 'drinks', amountFen: 1 }], context)).toEqual({
      applies: true,
      discountFen: 500,
      eligibleFen: 1_000,
    });
    expect(couponDiscount(drinks, basket(10_000), context)).toMatchObject({ applies: false, reason: { code: 'no_eligible_items' } });
  });

  it('checks in a fixed order: an expired coupon at the wrong store is reported as expired', () => {
    const both = { ...manJian, conditions: { validUntil: '2026-01-01T00:00:00Z', storeIds: ['x'] } };
    expect(couponDiscount(both, basket(1), context)).toMatchObject({ reason: { code: 'expired' } });
  });
});

describe('templates are validated, every problem at once', () => {
  it('lists each problem', () => {
    const bad = {
      nameZh: '',
      nameEn: 'x',
      offer: { kind: 'percent_off', percentOff: 0, maxDiscountFen: -1 },
      conditions: { tiers: [], minSpendFen: 1.5, validFrom: '2026-07-01T00:00:00Z', validUntil: '2026-06-01T00:00:00Z' },
      pointsCost: -1,
    } as unknown as CouponTemplate;
    expect(couponTemplateProblems(bad)).toEqual([
      'nameZh is required',
      'percentOff must be a whole number 1–100',
      'maxDiscountFen, when given, must be a positive whole number of fen',
      'tiers, when given, must be a non-empty list (omit it to allow all)',
      'minSpendFen, when given, must be a positive whole number of fen',
      'conditions: validFrom must be before validUntil',
      'pointsCost, when given, must be a whole number 0–1e9',
    ]);
    expect(() => couponDiscount(bad, basket(1), context)).toThrow(RuleSetError);
  });

  it('refuses an unknown offer kind and a fractional amount', () => {
    expect(couponTemplateProblems({ ...manJian, offer: { kind: 'free_lunch' } } as unknown as CouponTemplate)).toEqual([
      'offer.kind must be amount_off or percent_off',
    ]);
    expect(couponTemplateProblems({ ...manJian, offer: { kind: 'amount_off', amountOffFen: 0.5 } })).toEqual([
      'amountOffFen must be a positive whole number of fen',
    ]);
  });
});

describe('labels', () => {
  it.each([
    [manJian, '满100减20', '¥20 off on ¥100 or more'],
    [{ ...manJian, conditions: {} }, '减20', '¥20 off'],
    [percent(20), '8折', '20% off'],
    [percent(15, 1_050), '8.5折(最多减¥10.50)', '15% off (up to ¥10.50)'],
    [{ ...percent(15, 3_000), conditions: { minSpendFen: 10_000 } }, '满100享8.5折(最多减¥30)', '15% off on ¥100 or more (up to ¥30)'],
  ])('%j → %s / %s', (template, zh, en) => {
    expect(describeOffer(template)).toEqual({ zh, en });
  });
});

describe('segments for targeted issue', () => {
  const days30 = { kind: 'no_purchase_within_days', days: 30 } as const;
  const now = new Date('2026-06-30T12:00:00Z');
  it.each([
    [null, true],
    ['2026-05-31T11:59:59.999Z', true], // just over 30 days ago
    ['2026-05-31T12:00:00Z', false], // exactly 30 days ago: still within the window
    ['2026-06-30T11:00:00Z', false],
  ])('no purchase in 30 days, last purchase %s → %s', (last, expected) => {
    expect(inSegment(days30, { lastPurchaseAt: last === null ? null : new Date(last), birthMonthDay: null }, now)).toBe(expected);
  });

  const shanghai = { kind: 'birthday_month', timeZone: 'Asia/Shanghai' } as const;
  it.each([
    ['03-15', '2026-02-28T16:00:00Z', true], // 1 March 00:00 in Shanghai
    ['03-15', '2026-02-28T15:59:59.999Z', false], // still February in Shanghai
    ['02-29', '2026-02-10T00:00:00Z', true],
    ['12-31', '2026-01-01T00:00:00Z', false],
    [null, '2026-01-01T00:00:00Z', false],
  ])('birthday %s at %s → %s', (birthMonthDay, instant, expected) => {
    expect(inSegment(shanghai, { lastPurchaseAt: null, birthMonthDay }, new Date(instant))).toBe(expected);
  });

  it('refuses bad segments and birthdays', () => {
    expect(() => inSegment({ kind: 'no_purchase_within_days', days: 0 }, { lastPurchaseAt: null, birthMonthDay: null }, now)).toThrow(RuleSetError);
    expect(() => inSegment({ kind: 'birthday_month', timeZone: 'Mars/Olympus' }, { lastPurchaseAt: null, birthMonthDay: null }, now)).toThrow(
      /IANA/,
    );
    expect(() => inSegment(shanghai, { lastPurchaseAt: null, birthMonthDay: '13-01' }, now)).toThrow(RangeError);
  });
});
