import { describe, expect, it } from 'vitest';
import { DEFAULT_RESEND_POLICY, ResendSchedule, type Sendable } from '../../device/sync/resend-schedule.ts';

/** Outbox entries with seq 1..n (txId `tx-<seq>`), oldest first. */
function outbox(n: number): Array<Sendable & { seq: number }> {
  return Array.from({ length: n }, (_, i) => ({ seq: i + 1, tx: { txId: `tx-${i + 1}` } }));
}

const seqs = (entries: Array<{ seq: number }>) => entries.map((entry) => entry.seq);
/** No jitter: random() = 0.5 is the middle of ±20 %. */
const noJitter = () => 0.5;

/** Publishes what is due at `now`, as OutboxStream does, and returns it. */
function publishDue(schedule: ResendSchedule, pending: Array<Sendable & { seq: number }>, now: number) {
  const due = schedule.due(pending, now);
  for (const entry of due) schedule.sent(entry.tx.txId, now);
  return due;
}

describe('ResendSchedule (fake clock, no timers)', () => {
  it('publishes an entry once, and again only once its ack is overdue', () => {
    const schedule = new ResendSchedule({ ackTimeoutMs: 5_000 }, noJitter);
    const pending = outbox(1);
    expect(seqs(publishDue(schedule, pending, 0))).toEqual([1]);
    for (const now of [1, 1_000, 4_999]) expect(schedule.due(pending, now)).toEqual([]);
    expect(seqs(publishDue(schedule, pending, 5_000))).toEqual([1]);
    expect(schedule.state('tx-1')).toMatchObject({ attempts: 2, lastSentAt: 5_000 });
  });

  it('never resends before the ack timeout, whatever the jitter draws', () => {
    for (const random of [() => 0, () => 0.1, () => 1]) {
      const schedule = new ResendSchedule({ ackTimeoutMs: 5_000 }, random);
      const pending = outbox(1);
      publishDue(schedule, pending, 0);
      expect(schedule.due(pending, 4_999)).toEqual([]);
      expect(schedule.state('tx-1')!.resendAt).toBeGreaterThanOrEqual(5_000);
    }
  });

  it('doubles the wait after each unanswered publish, up to the cap', () => {
    const schedule = new ResendSchedule({ ackTimeoutMs: 1_000, maxBackoffMs: 8_000 }, noJitter);
    const pending = outbox(1);
    const waits: number[] = [];
    let now = 0;
    for (let publish = 0; publish < 6; publish++) {
      expect(seqs(publishDue(schedule, pending, now))).toEqual([1]);
      const state = schedule.state('tx-1')!;
      waits.push(state.resendAt - state.lastSentAt);
      expect(schedule.due(pending, state.resendAt - 1)).toEqual([]);
      now = state.resendAt;
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('spreads each wait by at most ±20 % (never below the ack timeout), the ends reached at random() = 0 and 1', () => {
    const ackTimeoutMs = 1_000;
    const maxBackoffMs = 16_000;
    for (const draw of [0, 0.3, 0.5, 0.8, 1]) {
      const schedule = new ResendSchedule({ ackTimeoutMs, maxBackoffMs }, () => draw);
      for (let attempt = 1; attempt <= 7; attempt++) {
        const state = schedule.sent('tx-1', 0);
        const base = Math.min(maxBackoffMs, ackTimeoutMs * 2 ** (attempt - 1));
        const wait = state.resendAt - state.lastSentAt;
        expect(state.attempts).toBe(attempt);
        expect(wait).toBeGreaterThanOrEqual(Math.max(ackTimeoutMs, 0.8 * base));
        expect(wait).toBeLessThanOrEqual(1.2 * base);
        if (draw === 1) expect(wait).toBe(Math.round(1.2 * base));
        if (draw === 0) expect(wait).toBe(Math.max(ackTimeoutMs, Math.round(0.8 * base)));
      }
    }
  });

  it('keeps at most `window` entries in flight; each ack opens room for the next, in sequence order', () => {
    const schedule = new ResendSchedule({ window: 3 }, noJitter);
    let pending = outbox(10);
    expect(seqs(publishDue(schedule, pending, 0))).toEqual([1, 2, 3]);
    expect(schedule.inFlightCount).toBe(3);
    expect(schedule.due(pending, 1)).toEqual([]);

    // Acks may come out of order (the hub applies concurrently): room opens all the same, for seq 4, then 5 and 6.
    const ack = (seq: number) => {
      schedule.acked(`tx-${seq}`);
      pending = pending.filter((entry) => entry.seq !== seq);
    };
    ack(2);
    expect(seqs(publishDue(schedule, pending, 2))).toEqual([4]);
    ack(1);
    ack(3);
    expect(seqs(publishDue(schedule, pending, 3))).toEqual([5, 6]);
    expect(schedule.inFlightCount).toBe(3);
  });

  it('lists resends and first publishes together in sequence order, resends not taking extra room', () => {
    const schedule = new ResendSchedule({ window: 3, ackTimeoutMs: 1_000 }, noJitter);
    let pending = outbox(5);
    publishDue(schedule, pending, 0); // 1, 2, 3
    schedule.acked('tx-1');
    pending = pending.slice(1);
    expect(seqs(publishDue(schedule, pending, 1_000))).toEqual([2, 3, 4]);
    expect(schedule.state('tx-2')!.attempts).toBe(2);
    expect(schedule.state('tx-4')!.attempts).toBe(1);
    expect(schedule.inFlightCount).toBe(3);
  });

  it('reads a long backlog only as far as the window reaches', () => {
    const schedule = new ResendSchedule({ window: 4 }, noJitter);
    let read = 0;
    function* backlog() {
      for (const entry of outbox(10_000)) {
        read += 1;
        yield entry;
      }
    }
    expect(seqs(publishDue(schedule, [...outbox(4)], 0))).toEqual([1, 2, 3, 4]);
    expect(schedule.due(backlog(), 1)).toEqual([]);
    expect(read).toBeLessThanOrEqual(5);
  });

  it('after a reconnect streams again from the oldest pending entry, each back-off starting over', () => {
    const schedule = new ResendSchedule({ window: 2, ackTimeoutMs: 1_000 }, noJitter);
    const pending = outbox(4);
    publishDue(schedule, pending, 0);
    publishDue(schedule, pending, 1_000); // 1 and 2 again: attempt 2
    schedule.restart();
    expect(schedule.inFlightCount).toBe(0);
    expect(seqs(publishDue(schedule, pending, 1_500))).toEqual([1, 2]);
    expect(schedule.state('tx-1')).toEqual({ attempts: 1, lastSentAt: 1_500, resendAt: 2_500 });
  });

  it("treats an entry's ack as overdue for the hub's sync request after the ack timeout, back-off or not", () => {
    const schedule = new ResendSchedule({ ackTimeoutMs: 1_000, maxBackoffMs: 60_000 }, noJitter);
    const pending = outbox(1);
    expect(schedule.ackOverdue('tx-1', 0)).toBe(false); // not in flight: the stream sends it
    publishDue(schedule, pending, 0);
    expect(schedule.ackOverdue('tx-1', 999)).toBe(false); // probably still being applied
    publishDue(schedule, pending, 1_000);
    publishDue(schedule, pending, 3_000);
    expect(schedule.state('tx-1')).toMatchObject({ attempts: 3, resendAt: 7_000 });
    expect(schedule.ackOverdue('tx-1', 4_000)).toBe(true);
  });

  it('arms its timer for the earliest resend', () => {
    const schedule = new ResendSchedule({ ackTimeoutMs: 1_000 }, noJitter);
    expect(schedule.nextResendAt()).toBeUndefined();
    schedule.sent('tx-1', 500);
    schedule.sent('tx-2', 100);
    expect(schedule.nextResendAt()).toBe(1_100);
    schedule.acked('tx-2');
    expect(schedule.nextResendAt()).toBe(1_500);
  });

  it('defaults to a window of 64, a 5 s ack timeout and a 5 min cap, and refuses a policy that cannot work', () => {
    expect(new ResendSchedule().policy).toEqual(DEFAULT_RESEND_POLICY);
    expect(DEFAULT_RESEND_POLICY).toEqual({ window: 256, ackTimeoutMs: 5_000, maxBackoffMs: 300_000 });
    expect(() => new ResendSchedule({ window: 0 })).toThrow(RangeError);
    expect(() => new ResendSchedule({ ackTimeoutMs: 10_000, maxBackoffMs: 5_000 })).toThrow(RangeError);
  });
});
