import { describe, expect, it } from 'vitest';
import {
  InvalidCardError,
  isCardNumber,
  maskCardNumber,
  maskCardUid,
  maskPhone,
  normalizeCardNumber,
  normalizeCardUid,
} from '../../shared/card.ts';

describe('card identifiers', () => {
  it.each([
    ['04:a2:2b:1c', '04A22B1C'],
    ['04 A2 2B 1C', '04A22B1C'],
    ['04a22b1c5d6e7f', '04A22B1C5D6E7F'],
    ['0102030405060708090a', '0102030405060708090A'],
  ])('normalises %s to %s', (raw, uid) => {
    expect(normalizeCardUid(raw)).toBe(uid);
  });

  it.each(['', '04A22B', '04A22B1C5D', 'ZZA22B1C', '04A22B1C/', '04A22B1C5D6E7F80'])('refuses "%s" with a clear message', (raw) => {
    expect(() => normalizeCardUid(raw)).toThrow(new InvalidCardError(`card UID must be 4, 7 or 10 bytes of hex, got "${raw}"`));
  });

  it.each([
    ['6200123412345678', '6200123412345678'],
    ['6200 1234 1234 5678', '6200123412345678'],
    ['6200-1234-1234-5678', '6200123412345678'],
    [' 6200123412345678\n', '6200123412345678'],
  ])('normalises card number %j to %s', (raw, cardNumber) => {
    expect(normalizeCardNumber(raw)).toBe(cardNumber);
    expect(isCardNumber(cardNumber)).toBe(true);
  });

  it.each([
    ['', 0, '****'],
    ['620012341234567', 15, '****4567'],
    ['62001234123456789', 17, '****6789'],
    ['6200A23412345678', 16, '****5678'],
    ['6200.1234.1234.5678', 19, '****5678'],
    ['６２００１２３４１２３４５６７８', 16, '****５６７８'],
  ])('refuses card number %j with a message that shows only its tail', (raw, length, masked) => {
    expect(() => normalizeCardNumber(raw)).toThrow(
      new InvalidCardError(`card number must be 16 decimal digits (spaces and dashes are ignored), got ${length} characters (${masked})`),
    );
    expect(isCardNumber(raw)).toBe(false);
  });

  it('masks card numbers and phone numbers for logs and screens', () => {
    expect(maskCardUid('04A22B1C')).toBe('****2B1C');
    expect(maskCardNumber('6200123412345678')).toBe('****5678');
    expect(maskCardNumber('123')).toBe('****');
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('12')).toBe('****');
  });
});
