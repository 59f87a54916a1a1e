/**
 * Exponential backoff with jitter for reopening a device that went away (a USB-serial adapter unplugged,
 * a printer switched off). Delays double from `initialMs` up to `maxMs`; ±20 % jitter keeps a fleet of
 * kiosks that lost power together from retrying in lockstep.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
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
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }

  /** Call after a success, so the next failure starts from the short delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
