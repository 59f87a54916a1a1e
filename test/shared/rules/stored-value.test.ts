import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import {
  InsufficientStoredValueError,
  TopUpNotRefundableError,
  splitStoredValueSpend,
  topUpRefund,
  type SpendingOrder,
} from '../../../shared/rules/stored-value.ts';

const bal = (principalFen: number, bonusFen: number) => ({ principalFen, bonusFen });

describe('splitStoredValueSpend', () => {
  it.each<[SpendingOrder, number, number, number, number, number]>([
    // order, principal, bonus, amount → principal part, bonus part
    ['principal_first', 10_000, 2_000, 5_000, 5_000, 0],
    ['principal_first', 10_000, 2_000, 10_000, 10_000, 0],
    ['principal_first', 10_000, 2_000, 10_001, 10_000, 1],
    ['principal_first', 10_000, 2_000, 12_000, 10_000, 2_000],
    ['principal_first', 0, 2_000, 1, 0, 1],
    ['bonus_first', 10_000, 2_000, 1_999, 0, 1_999],
    ['bonus_first', 10_000, 2_000, 2_000, 0, 2_000],
    ['bonus_first', 10_000, 2_000, 2_001, 1, 2_000],
    ['bonus_first', 10_000, 0, 500, 500, 0],
    ['bonus_first', 10_000, 2_000, 12_000, 10_000, 2_000],
    // proportional: bonus part floored, the remainder fen comes from principal
    ['proportional', 10_000, 2_000, 1_200, 1_000, 200],
    ['proportional', 10_000, 2_000, 1_000, 834, 166], // 1000×2000/12000 = 166.67 → 166
    ['proportional', 10_000, 2_000, 1, 1, 0],
    ['proportional', 10_000, 2_000, 6, 5, 1],
    ['proportional', 10_000, 2_000, 12_000, 10_000, 2_000],
    ['proportional', 1, 2, 2, 1, 1], // 2×2/3 = 1.33 → 1
    ['proportional', 0, 500, 500, 0, 500],
    ['proportional', 500, 0, 7, 7, 0],
    ['proportional', 999_999_999, 1_000_000_000, 1_000_000_000, 500_000_000, 500_000_000], // 1e18 > 2^53: exact only in BigInt (500000000.25 → 500000000)
  ])('%s with principal %i, bonus %i: pay %i → principal %i + bonus %i', (order, p, b, amount, wantP, wantB) => {
    const split = splitStoredValueSpend(order, bal(p, b), amount);
    expect(split).toEqual({ principalFen: wantP, bonusFen: wantB });
    expect(split.principalFen + split.bonusFen).toBe(amount);
    expect(split.principalFen).toBeLessThanOrEqual(p);
    expect(split.bonusFen).toBeLessThanOrEqual(b);
  });

  it.each<SpendingOrder>(['principal_first', 'bonus_first', 'proportional'])('%s: one fen short throws', (order) => {
    const error = (() => {
      try {
        splitStoredValueSpend(order, bal(10_000, 2_000), 12_001);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InsufficientStoredValueError);
    expect(error).toMatchObject({ availableFen: 12_000, neededFen: 12_001 });
  });

  it.each<[string, () => unknown]>([
    ['zero amount', () => splitStoredValueSpend('principal_first', bal(1, 1), 0)],
    ['fractional amount', () => splitStoredValueSpend('principal_first', bal(10, 10), 1.5)],
    ['negative balance', () => splitStoredValueSpend('bonus_first', bal(-1, 10), 1)],
    ['fractional balance', () => splitStoredValueSpend('bonus_first', bal(10, 0.5), 1)],
    ['unknown order', () => splitStoredValueSpend('cheapest' as SpendingOrder, bal(10, 10), 1)],
  ])('refuses %s', (_, attempt) => {
    expect(attempt).toThrow(InvalidAmountError);
  });
});

describe('topUpRefund: principal only, the bonus reversed, spent bonus paid back from the principal', () => {
  it.each([
    // original principal, bonus; balances principal, bonus → cash back, principal debit, bonus debit, spent bonus
    [10_000, 2_000, 10_000, 2_000, 10_000, 10_000, 2_000, 0],
    [10_000, 2_000, 15_000, 5_000, 10_000, 10_000, 2_000, 0], // other top-ups' money stays
    [10_000, 2_000, 10_000, 1_500, 9_500, 10_000, 1_500, 500],
    [10_000, 2_000, 10_000, 0, 8_000, 10_000, 0, 2_000],
    [10_000, 0, 10_000, 0, 10_000, 10_000, 0, 0],
    [2_000, 2_000, 2_000, 0, 0, 2_000, 0, 2_000], // spent bonus equals the principal: nothing handed back
  ])('top-up %i+%i, balances %i/%i → cash %i, principal −%i, bonus −%i, spent %i', (p, b, nowP, nowB, cash, pd, bd, spent) => {
    const refund = topUpRefund({ principalFen: p, bonusFen: b }, bal(nowP, nowB));
    expect(refund).toEqual({ cashReturnedFen: cash, principalDebitFen: pd, bonusDebitFen: bd, spentBonusFen: spent });
    // Double entry: what leaves the member = cash back + bonus reversed from bonus_issued minus what the bonus already paid.
    expect(refund.principalDebitFen + refund.bonusDebitFen).toBe(refund.cashReturnedFen + b);
  });

  it.each([
    ['principal already spent (one fen)', 10_000, 2_000, 9_999, 2_000, 'principal_spent'],
    ['spent bonus exceeds the principal', 1_000, 3_000, 1_000, 0, 'bonus_spent_exceeds_principal'],
  ])('refuses when the %s', (_, p, b, nowP, nowB, reason) => {
    try {
      topUpRefund({ principalFen: p, bonusFen: b }, bal(nowP, nowB));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TopUpNotRefundableError);
      expect((error as TopUpNotRefundableError).reason).toBe(reason);
      expect((error as Error).message).toMatch(/[\u4e00-\u9fff].* \/ [A-Z]/);
    }
  });

  it('refuses malformed originals', () => {
    expect(() => topUpRefund({ principalFen: 0, bonusFen: 0 }, bal(0, 0))).toThrow(InvalidAmountError);
    expect(() => topUpRefund({ principalFen: 100, bonusFen: -1 }, bal(100, 0))).toThrow(InvalidAmountError);
  });
});
