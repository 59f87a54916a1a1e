import { performance } from 'node:perf_hooks';
import { ResendSchedule, type ResendPolicy, type Sendable, type SendState } from './resend-schedule.ts';

export interface OutboxStreamOptions<E extends Sendable> {
  /** Window, ack timeout and back-off cap (DEFAULT_RESEND_POLICY for what is not given). */
  policy?: Partial<ResendPolicy>;
  /** The jitter's random source (Math.random). */
  random?: () => number;
  /** The pending entries, oldest first, read at every step: the outbox, not the stream, is the source of truth. */
  pending(): Iterable<E>;
  /**
   * Publishes one entry at QoS 1: a first publish or a resend, with its send state after this publish;
   * without one for a settled entry the hub asked for again (it is not in the window).
   */
  publish(entry: E, send?: SendState): void;
}

/**
 * Runs the ResendSchedule on a live connection: publishes what is due whenever something changes (an entry
 * recorded, an ack, a connect) and arms one timer for the next resend. Used by the kiosk's HubLink and by the
 * fleet simulator, so the benchmarks measure the kiosk's own policy.
 */
export class OutboxStream<E extends Sendable> {
  readonly schedule: ResendSchedule;
  private open = false;
  private timer: NodeJS.Timeout | undefined;
  private step: NodeJS.Immediate | undefined;

  constructor(private readonly options: OutboxStreamOptions<E>) {
    this.schedule = new ResendSchedule(options.policy, options.random);
  }

  /**
   * The connection is up and subscribed to acks: stream from the oldest pending entry, whatever was in flight.
   *
   * The kiosk's MQTT sessions are clean. The broker kept neither its subscription nor the acks addressed to
   * it while it was away, so an ack for anything in flight may be gone for good, and a broker restart (the
   * embedded one restarts with the hub) loses what it had not delivered. Waiting for each in-flight entry's
   * overdue time would bring those back late and after younger entries, out of the order the hub needs; so
   * everything pending is streamed again in sequence order, and each back-off starts over (what kept the hub
   * from answering may be what the reconnect fixed). It costs at most `window` replays per reconnect, which
   * the hub answers from its idempotency keys. (mqtt.js also retransmits publishes the broker had not
   * PUBACKed, so those may arrive a third time: equally harmless.)
   *
   * With a persistent session (clean: false) the broker would queue the acks and mqtt.js would complete
   * the in-flight publishes itself, so keeping the in-flight set and its overdue timers, measured from the
   * last publish, would be right. The kiosk does not use one: broker queues are bounded (Mosquitto drops past
   * max_queued_messages, 1000 by default), Aedes keeps them in memory, and a kiosk offline for days would
   * leave a pile of stale member updates there; the outbox on disk has to be the source of truth anyway.
   */
  connected(): void {
    this.schedule.restart();
    this.open = true;
    this.pump();
  }

  /** The connection is gone: nothing is published until connected() again. */
  disconnected(): void {
    this.open = false;
    clearTimeout(this.timer);
    clearImmediate(this.step);
    this.timer = undefined;
    this.step = undefined;
  }

  /**
   * Something may be due: an entry was recorded, or an ack opened room. Publishes on the next turn of the
   * event loop, once for all the acks that arrived together (each pass reads the whole pending list).
   */
  wake(): void {
    if (!this.open || this.step) return;
    this.step = setImmediate(() => {
      this.step = undefined;
      this.pump();
    });
  }

  /** `txId` is settled (its ack applied to the outbox): it leaves the window, making room for the next entry. */
  acked(txId: string): void {
    this.schedule.acked(txId);
    this.wake();
  }

  /**
   * The hub asked for these entries again (a sequence gap) and gets, in the order given: settled ones at once
   * (it lost them; its idempotency makes that safe), in-flight ones whose ack is overdue at once, back-off or
   * not. An in-flight entry younger than the ack timeout is probably still being applied (the hub applies a
   * device's transactions concurrently and may settle a later one first): it is resent if its ack does not
   * come in time. A pending entry not yet published is at the head of the stream and goes out as room opens.
   * Returns the entries published.
   */
  resend(requested: readonly E[], isPending: (entry: E) => boolean): E[] {
    if (!this.open) return [];
    const now = performance.now();
    const resent = requested.filter((entry) => !isPending(entry) || this.schedule.ackOverdue(entry.tx.txId, now));
    for (const entry of resent) {
      if (isPending(entry)) this.options.publish(entry, this.schedule.sent(entry.tx.txId, now));
      else this.options.publish(entry);
    }
    this.arm();
    return resent;
  }

  private pump(): void {
    if (!this.open) return;
    const now = performance.now();
    for (const entry of this.schedule.due(this.options.pending(), now)) {
      this.options.publish(entry, this.schedule.sent(entry.tx.txId, now));
    }
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const at = this.schedule.nextResendAt();
    if (at === undefined) return;
    // A timer may fire a little early: pump() then finds nothing due yet and arms it again.
    this.timer = setTimeout(() => this.pump(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }
}
