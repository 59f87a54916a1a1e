/**
 * Exponential backoff with jitter: for reopening a device that went away (a USB-serial adapter unplugged,
 * a printer switched off) and for publishing an outbox entry again while the hub does not acknowledge it
 * (device/sync/resend-schedule.ts). Delays double from `initialMs` up to `maxMs`; ±20 % jitter keeps a fleet
 * of kiosks that lost power (or their hub) together from retrying in lockstep.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
}

/**
 * The delay before retry number `failures + 1`, i.e. after `failures` failures in a row (0 gives the initial
 * delay): min(maxMs, initialMs · 2^failures), then ±20 % by `random()` (0 → −20 %, 1 → +20 %).
 */
export function backoffDelayMs(failures: number, initialMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  nextDelayMs(): number {
    return backoffDelayMs(this.attempt++, this.initialMs, this.maxMs, this.random);
  }

  /** Call after a success, so the next failure starts from the short delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
