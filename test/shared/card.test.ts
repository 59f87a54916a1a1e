import { describe, expect, it } from 'vitest';
import { InvalidCardError, maskCardUid, maskPhone, normalizeCardUid } from '../../shared/card.ts';

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

  it('masks card numbers and phone numbers for logs and screens', () => {
    expect(maskCardUid('04A22B1C')).toBe('****2B1C');
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('12')).toBe('****');
  });
});
