import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub } from '../../cloud/hub.ts';
import { newId } from '../../shared/ids.ts';
import { topics, TOPIC_ROOT } from '../../shared/contract/topics.ts';
import { MAX_PAYLOAD_BYTES } from '../../shared/contract/decode.ts';
import type { DeviceTransaction, MemberSnapshot, TxAck } from '../../shared/contract/payloads.ts';
import { RecordingClient, TestHub } from '../helpers/hub.ts';
import { waitFor, withDeadline } from '../helpers/events.ts';

const DEVICE = 'kiosk-hostile-1';
const TOTAL = 1000;
/** Deadlines of the three waits below (acks of the setup, publishing 1,000 at QoS 1, the refusals); the test's timeout exceeds their sum. */
const STEP_MS = 45_000;

/**
 * Gateway log lines that say "this message changed nothing, and why". The sequence conflict line comes
 * with the gateway's sequence tracking (cloud/sync), which may or may not be wired into the hub.
 */
const REFUSAL_MESSAGES = ['rejected device message', 'device transaction refused', 'device sequence conflict'];
/** Gateway counters of messages that changed nothing; `conflicts` likewise exists only with sequence tracking. */
const REFUSAL_COUNTERS = ['invalid', 'refused', 'conflicts'];

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
  code?: string;
}

function topUp(member: MemberSnapshot, seq: number, amountFen: number): DeviceTransaction {
  return {
    v: 1,
    txId: newId(),
    deviceId: DEVICE,
    seq,
    createdAt: new Date().toISOString(),
    body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen, currency: 'CNY' },
  };
}

type Hostile = { kind: string; topic: string; payload: string | Buffer };

/**
 * One generator per kind of bad message; `i` varies each instance so 1,000 of them are not 40 copies of
 * 25. `applied` are transactions the hub has already posted (for replays), `other` is a second member.
 */
function hostileKinds(member: MemberSnapshot, other: MemberSnapshot, applied: DeviceTransaction[]) {
  const tx = topics.tx(DEVICE);
  const fresh = (i: number) => topUp(member, 1000 + i, 100 + i);
  const json = (value: unknown) => JSON.stringify(value);
  const replayOf = (i: number) => applied[i % applied.length]!;
  const kinds: Array<(i: number) => Hostile> = [
    // not JSON at all
    (i) => ({ kind: 'non-json text', topic: tx, payload: `not json ${i}` }),
    (i) => ({ kind: 'random bytes', topic: tx, payload: Buffer.from(Array.from({ length: 1 + (i % 64) }, (_, k) => (i * 31 + k * 17) % 256)) }),
    (i) => ({ kind: 'truncated json', topic: tx, payload: json(fresh(i)).slice(0, 10 + (i % 100)) }),
    () => ({ kind: 'empty payload', topic: tx, payload: '' }),
    // wrong schema
    () => ({ kind: 'empty object', topic: tx, payload: '{}' }),
    (i) => ({ kind: 'json array', topic: tx, payload: json([fresh(i)]) }),
    (i) => ({ kind: 'wrong version', topic: tx, payload: json({ ...fresh(i), v: 2 }) }),
    (i) => ({ kind: 'extra field', topic: tx, payload: json({ ...fresh(i), admin: true }) }),
    (i) => ({ kind: 'txId not a uuid', topic: tx, payload: json({ ...fresh(i), txId: `tx-${i}` }) }),
    (i) => ({ kind: 'seq zero or negative', topic: tx, payload: json({ ...fresh(i), seq: -(i % 3) }) }),
    (i) => ({ kind: 'fractional amount', topic: tx, payload: json(withBody(fresh(i), { amountFen: 100.5 + i })) }),
    (i) => ({ kind: 'negative amount', topic: tx, payload: json(withBody(fresh(i), { amountFen: -100 - i })) }),
    (i) => ({ kind: 'huge amount', topic: tx, payload: json(withBody(fresh(i), { amountFen: Number.MAX_SAFE_INTEGER - i })) }),
    (i) => ({ kind: 'amount as string', topic: tx, payload: json(withBody(fresh(i), { amountFen: String(100 + i) })) }),
    (i) => ({ kind: 'other currency', topic: tx, payload: json(withBody(fresh(i), { currency: 'USD' })) }),
    (i) => ({ kind: 'other kind', topic: tx, payload: json(withBody(fresh(i), { kind: 'stored_value_payment' })) }),
    (i) => ({ kind: 'sql in card uid', topic: tx, payload: json(withBody(fresh(i), { cardUid: `04C0FFEE' OR ${i}=${i}--` })) }),
    // identity games
    (i) => ({ kind: 'payload device id ≠ topic', topic: tx, payload: json({ ...fresh(i), deviceId: `kiosk-victim-${i}` }) }),
    (i) => ({ kind: 'wildcard-ish device id in payload', topic: tx, payload: json({ ...fresh(i), deviceId: ['+', '#', 'a/b', '../x', 'kiosk 1', ''][i % 6] }) }),
    (i) => ({ kind: 'invalid device id in topic', topic: `${TOPIC_ROOT}/${['bad.id', '', 'ünï', 'x'.repeat(65), '$SYS', '-lead'][i % 6]}/tx`, payload: json(fresh(i)) }),
    (i) => ({ kind: 'unknown member', topic: tx, payload: json(withBody(fresh(i), { memberId: newId() })) }),
    (i) => ({ kind: "another member's card", topic: tx, payload: json(withBody(fresh(i), { cardUid: other.cardUid })) }),
    // oversized
    (i) => ({ kind: 'oversized', topic: tx, payload: json({ ...fresh(i), pad: 'x'.repeat(MAX_PAYLOAD_BYTES + i) }) }),
    // replays of posted transactions, changed
    (i) => ({ kind: 'replay, changed amount', topic: tx, payload: json(withBody(replayOf(i), { amountFen: replayOf(i).body.amountFen + 1 + i })) }),
    (i) => ({ kind: 'replay, out-of-order seq', topic: tx, payload: json({ ...replayOf(i), seq: replayOf(i).seq + 100 + i }) }),
    (i) => ({ kind: 'replay, other member', topic: tx, payload: json(withBody(replayOf(i), { memberId: other.memberId, cardUid: other.cardUid })) }),
  ];
  return Array.from({ length: TOTAL }, (_, n) => kinds[n % kinds.length]!(Math.floor(n / kinds.length)));
}

function withBody(tx: DeviceTransaction, change: Record<string, unknown>): unknown {
  return { ...tx, body: { ...tx.body, ...change } };
}

describe('1,000 malformed and hostile payloads on device topics', () => {
  let hub: TestHub;
  let device: RecordingClient;
  const logLines: LogLine[] = [];

  beforeAll(async () => {
    hub = await TestHub.create();
    // The hub's own log, captured line by line, so every refusal can be shown to come with a reason.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    hub.hub = await startHub(hub.config(), pino({ level: 'warn' }, sink));
    device = await RecordingClient.connect(hub.running.mqttUrl, DEVICE);
    await device.client.subscribeAsync(topics.txAck(DEVICE), { qos: 1 });
  });

  afterAll(async () => {
    await device?.close();
    await hub?.cleanup();
  });

  async function ledgerState() {
    const { rows } = await hub.running.db.query<{ transactions: number; postings: number; postedSum: string; memberBalances: string }>(
      `SELECT (SELECT count(*)::int FROM ledger_transactions) AS transactions,
              (SELECT count(*)::int FROM postings) AS postings,
              (SELECT coalesce(sum(abs(amount)), 0)::text FROM postings) AS "postedSum",
              (SELECT coalesce(sum(balance), 0)::text FROM accounts WHERE member_id IS NOT NULL) AS "memberBalances"`,
    );
    return rows[0]!;
  }

  it('rejects every one with a logged reason and leaves the ledger as it was', async () => {
    const member = await hub.member('攻一', '04DD0001');
    const other = await hub.member('攻二', '04DD0002');
    const applied = [1, 2, 3, 4, 5].map((seq) => topUp(member, seq, seq * 1000));
    for (const tx of applied) await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(tx), { qos: 1 });
    await device.waitFor<TxAck>(topics.txAck(DEVICE), applied.length, STEP_MS);
    const { gateway } = hub.running;
    const before = { ledger: await ledgerState(), counters: { ...gateway.counters }, logged: logLines.length };

    const hostile = hostileKinds(member, other, applied);
    await withDeadline(
      (async () => {
        for (const message of hostile) await device.client.publishAsync(message.topic, message.payload, { qos: 1 });
      })(),
      STEP_MS,
      `the broker to accept all ${TOTAL} hostile messages (QoS 1)`,
    );

    // Malformed ones are refused synchronously, business refusals after a database round trip.
    const refusals = (counters: object) =>
      REFUSAL_COUNTERS.reduce((sum, name) => sum + ((counters as Record<string, number | undefined>)[name] ?? 0), 0);
    const refusedSince = () => refusals(gateway.counters) - refusals(before.counters);
    await waitFor(() => refusedSince() >= TOTAL, {
      timeoutMs: STEP_MS,
      what: `the gateway to refuse all ${TOTAL} hostile messages`,
      describe: () => `refused ${refusedSince()}; counters ${JSON.stringify(gateway.counters)}`,
    });

    expect(refusedSince()).toBe(TOTAL);
    expect(gateway.counters.applied).toBe(before.counters.applied);
    expect(gateway.counters.replayed).toBe(before.counters.replayed);
    const logged = logLines.slice(before.logged).filter((line) => REFUSAL_MESSAGES.some((msg) => line.msg.startsWith(msg)));
    expect(logged).toHaveLength(TOTAL);
    for (const line of logged) expect(line.level).toBeGreaterThanOrEqual(40);
    for (const line of logged) expect(line.reason ?? line.code ?? line.msg).toMatch(/\S/);
    expect(await ledgerState()).toEqual(before.ledger);
  }, 3 * STEP_MS + 60_000);
});
