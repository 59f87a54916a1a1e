import { describe, expect, it } from 'vitest';
import { addMoney, cny, formatFen, InvalidAmountError, MAX_AMOUNT_FEN, parseYuan } from '../../shared/money.ts';

describe('money in fen', () => {
  it.each([
    [0, '¥0.00'],
    [5, '¥0.05'],
    [10000, '¥100.00'],
    [123456, '¥1234.56'],
    [-5, '-¥0.05'],
    [-10050, '-¥100.50'],
  ])('formats %i fen as %s', (fen, text) => {
    expect(formatFen(fen)).toBe(text);
  });

  it.each([
    ['100', 10000],
    ['100.5', 10050],
    ['100.50', 10050],
    ['0.01', 1],
    [' 20 ', 2000],
  ])('parses "%s" yuan as %i fen without floating point', (text, fen) => {
    expect(parseYuan(text)).toBe(fen);
  });

  it.each(['', 'abc', '1.234', '-1', '1e3', '0x10', '100.', '１００'])('refuses "%s" as an amount', (text) => {
    expect(() => parseYuan(text)).toThrow(InvalidAmountError);
  });

  it.each([10.5, Number.NaN, Infinity, MAX_AMOUNT_FEN + 1, 2 ** 53])('refuses %s as fen', (value) => {
    expect(() => cny(value)).toThrow(InvalidAmountError);
  });

  it('adds amounts of one currency exactly (0.1 + 0.2 is 30 fen, not 30.000000000000004)', () => {
    expect(addMoney(cny(10), cny(20))).toEqual({ amountFen: 30, currency: 'CNY' });
  });
});
