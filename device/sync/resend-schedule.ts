import { backoffDelayMs } from '../hardware/backoff.ts';

/**
 * When the kiosk publishes its outbox entries to the hub: the policy alone, with the clock and the jitter's
 * random source passed in, so it is tested without timers (resend-stream.ts runs it on real ones).
 *
 * - **A bounded window.** At most `window` entries await their ack at once; each ack opens room for the next
 *   entry in sequence order. A backlog drains as a stream: the hub gets a device's transactions oldest first,
 *   never ten thousand at once.
 * - **Published again only when the ack is overdue.** An entry is published once; it goes out again only after
 *   `ackTimeoutMs` without its ack, and then with exponential back-off (doubling up to `maxBackoffMs`, ±20 %
 *   jitter from the shared Backoff) while the hub stays silent. Never sooner than `ackTimeoutMs` after its
 *   last publish on the same connection: that is the "no duplicate before overdue" rule, and what the fleet
 *   simulator counts.
 *
 * Send state (publishes so far, when, when the ack is overdue) lives here, in memory: it describes one
 * connection's traffic, not the outbox, which stays the source of truth on disk.
 */
export interface ResendPolicy {
  /** At most this many published entries await their ack at once. */
  window: number;
  /** An ack not back this long after the entry's last publish is overdue: the entry may be published again. */
  ackTimeoutMs: number;
  /** The wait between publishes of an entry the hub keeps not acknowledging doubles from ackTimeoutMs up to this (±20 %). */
  maxBackoffMs: number;
}

/**
 * - window 256: big enough that the hub's batches fill up. With a kiosk's 10,000-entry backlog (fleet-backlog bench,
 *   hub process on durable PostgreSQL, busy two-core machine) windows of 64, 256 and 1,024 drained at about 1,150,
 *   1,300–1,850 and 1,500–2,200 tx/s: more in flight gives the hub bigger batches. But each entry waits about
 *   window ÷ pace for its ack (p99 0.1 s at 64, 0.3–0.5 s at 256, 1.8 s at 1,024), and past the ack timeout it is
 *   published again: at 256 a hub has to fall below ~50 tx/s before that happens, at 1,024 below ~200.
 * - ackTimeoutMs 5 s: a healthy hub acks within milliseconds of its database commit and a backlog's entries
 *   within about window ÷ pace, so an ack 5 s late was lost (the hub's subscription was down) or the hub is
 *   overloaded: resend, backing off. Short enough that a lost transaction reaches the ledger seconds later.
 * - maxBackoffMs 5 min: a hub that does not answer (dead behind a live broker, or failing on this entry) gets
 *   at most `window` publishes per kiosk every ~5 min instead of every 5 s; 1,000 kiosks then cost it about
 *   200 messages a second at worst, not 13,000. A hub restart with the embedded broker is also a reconnect,
 *   which restarts the stream at once (resend-stream.ts), so the cap does not delay the usual recovery.
 */
export const DEFAULT_RESEND_POLICY: ResendPolicy = { window: 256, ackTimeoutMs: 5_000, maxBackoffMs: 300_000 };

/** What the schedule needs of an outbox entry: its transaction id. */
export interface Sendable {
  tx: { txId: string };
}

/** One in-flight entry's publishes on the current connection. */
export interface SendState {
  /** Publishes so far (1 after the first). */
  attempts: number;
  lastSentAt: number;
  /** When it is published again unless its ack has come: overdue, and the back-off has run out. */
  resendAt: number;
}

export class ResendSchedule {
  readonly policy: ResendPolicy;
  /** Entries published on this connection and not acknowledged, by txId. */
  private readonly inFlight = new Map<string, SendState>();

  constructor(policy: Partial<ResendPolicy> = {}, private readonly random: () => number = Math.random) {
    this.policy = { ...DEFAULT_RESEND_POLICY, ...policy };
    const { window, ackTimeoutMs, maxBackoffMs } = this.policy;
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`the send window must be a whole number ≥ 1, got ${window}`);
    if (!(ackTimeoutMs > 0) || !(maxBackoffMs >= ackTimeoutMs)) {
      throw new RangeError(`need 0 < ackTimeoutMs ≤ maxBackoffMs, got ${ackTimeoutMs} and ${maxBackoffMs}`);
    }
  }

  /** Published entries still awaiting their ack. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** The send state of an entry in flight, undefined for one not published on this connection (or acked). */
  state(txId: string): SendState | undefined {
    return this.inFlight.get(txId);
  }

  /**
   * What to publish at `now`, in `pending`'s order (oldest first): entries in flight whose resend time has
   * come, and entries not yet in flight while the window has room. Changes nothing: call sent() for each
   * entry actually published. Stops reading `pending` once nothing further can be due, so a long backlog
   * costs the window, not its length.
   */
  due<E extends Sendable>(pending: Iterable<E>, now: number): E[] {
    const due: E[] = [];
    let room = this.policy.window - this.inFlight.size;
    let inFlightSeen = 0;
    for (const entry of pending) {
      const state = this.inFlight.get(entry.tx.txId);
      if (state) {
        inFlightSeen += 1;
        if (now >= state.resendAt) due.push(entry);
      } else if (room > 0) {
        due.push(entry);
        room -= 1;
      } else if (inFlightSeen >= this.inFlight.size) {
        break;
      }
    }
    return due;
  }

  /** Records a publish of `txId` at `now` and returns its new state: one attempt more, the next wait doubled. */
  sent(txId: string, now: number): SendState {
    const { ackTimeoutMs, maxBackoffMs } = this.policy;
    const attempts = (this.inFlight.get(txId)?.attempts ?? 0) + 1;
    // Jitter may shorten the back-off, never the ack timeout: nothing goes out again before it is overdue.
    const waitMs = Math.max(ackTimeoutMs, backoffDelayMs(attempts - 1, ackTimeoutMs, maxBackoffMs, this.random));
    const state: SendState = { attempts, lastSentAt: now, resendAt: now + waitMs };
    this.inFlight.set(txId, state);
    return state;
  }

  /** The hub acknowledged `txId` (or it is otherwise settled): it leaves the window. */
  acked(txId: string): void {
    this.inFlight.delete(txId);
  }

  /**
   * Whether `txId` is in flight and its ack overdue (`ackTimeoutMs` since its last publish), back-off or not.
   * The hub asking for an entry again (a sequence gap) proves it is there and lacks it, so the back-off, which
   * spares a hub that does not answer, no longer applies; a younger entry is probably still being applied.
   */
  ackOverdue(txId: string, now: number): boolean {
    const state = this.inFlight.get(txId);
    return state !== undefined && now - state.lastSentAt >= this.policy.ackTimeoutMs;
  }

  /** The earliest resend time of the entries in flight, for the one timer that drives resends. */
  nextResendAt(): number | undefined {
    let next: number | undefined;
    for (const { resendAt } of this.inFlight.values()) if (next === undefined || resendAt < next) next = resendAt;
    return next;
  }

  /**
   * A new connection: nothing is in flight any more, so the stream starts again from the oldest pending entry
   * and every back-off starts over (see OutboxStream.connected for why).
   */
  restart(): void {
    this.inFlight.clear();
  }
}
