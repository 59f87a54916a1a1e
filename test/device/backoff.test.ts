import { describe, expect, it } from 'vitest';
import { Backoff } from '../../device/hardware/backoff.ts';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, and starts over after a reset', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
    expect(Array.from({ length: 6 }, () => backoff.nextDelayMs())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.nextDelayMs()).toBe(100);
  });

  it('spreads retries by ±20 %', () => {
    expect(new Backoff({ initialMs: 1000, random: () => 0 }).nextDelayMs()).toBe(800);
    expect(new Backoff({ initialMs: 1000, random: () => 1 }).nextDelayMs()).toBe(1200);
  });
});
