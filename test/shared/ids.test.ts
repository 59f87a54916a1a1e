import { describe, expect, it } from 'vitest';
import { isUuidV7, newId } from '../../shared/ids.ts';

describe('newId', () => {
  it('makes UUIDv7s that are unique and sort in the order they were made, within one millisecond too', () => {
    const ids = Array.from({ length: 20_000 }, () => newId());
    expect(ids.every(isUuidV7)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // Made faster than one a millisecond, so most share their millisecond with others.
    const millis = new Set(ids.map((id) => id.slice(0, 13)));
    expect(millis.size).toBeLessThan(ids.length / 2);
  });

  it('draws fresh random bits for each id', () => {
    const tails = Array.from({ length: 1_000 }, () => newId().slice(24));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
