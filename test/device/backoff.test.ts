import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelayMs } from '../../device/hardware/backoff.ts';

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

  it('is one pure function of the failures so far, which the outbox resend schedule uses per entry', () => {
    expect([0, 1, 2, 3, 4, 40].map((failures) => backoffDelayMs(failures, 100, 1000, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(2, 100, 1000, () => 0)).toBe(320);
    expect(backoffDelayMs(2, 100, 1000, () => 1)).toBe(480);
  });
});
