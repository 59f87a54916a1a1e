import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES, decodePayload } from '../../shared/contract/decode.ts';
import { DeviceTransactions, type DeviceTransaction } from '../../shared/contract/payloads.ts';
import { topics } from '../../shared/contract/topics.ts';
import { newId } from '../../shared/ids.ts';
import { TransactionSender } from '../../device/sync/transaction-sender.ts';

const DEVICE = 'kiosk-sender-1';

const tx = (seq: number): DeviceTransaction => ({
  v: 1,
  txId: newId(),
  deviceId: DEVICE,
  seq,
  createdAt: new Date().toISOString(),
  body: { kind: 'cash_topup', memberId: newId(), cardUid: '04A22B1C', amountFen: 100, currency: 'CNY' },
});

/** A sender whose publishes are recorded, and a way to let the current turn's microtasks run. */
function recorded() {
  const sent: Array<{ topic: string; payload: string }> = [];
  const sender = new TransactionSender(DEVICE, (topic, payload) => sent.push({ topic, payload }));
  const seqsOf = ({ topic, payload }: { topic: string; payload: string }): number[] => {
    if (topic === topics.tx(DEVICE)) return [(JSON.parse(payload) as DeviceTransaction).seq];
    const group = decodePayload(DeviceTransactions, payload);
    if (!group.ok) throw new Error(group.reason);
    return group.value.txs.map((t) => t.seq);
  };
  return { sent, sender, seqsOf, turn: () => new Promise<void>((resolve) => setImmediate(resolve)) };
}

describe('TransactionSender', () => {
  it('sends each transaction alone on tx until the hub has answered on tx/acks', async () => {
    const { sent, sender, turn } = recorded();
    for (let seq = 1; seq <= 3; seq++) sender.send(tx(seq), false);
    await turn();
    expect(sent.map((m) => m.topic)).toEqual([topics.tx(DEVICE), topics.tx(DEVICE), topics.tx(DEVICE)]);
  });

  it('then sends the first publishes of one turn together on txs, in order; a lone one and every resend on tx', async () => {
    const { sent, sender, seqsOf, turn } = recorded();
    sender.hubAnsweredTogether();
    for (let seq = 1; seq <= 4; seq++) sender.send(tx(seq), false);
    sender.send(tx(99), true);
    expect(sent.map((m) => m.topic)).toEqual([topics.tx(DEVICE)]);
    await turn();
    expect(sent.map((m) => m.topic)).toEqual([topics.tx(DEVICE), topics.txs(DEVICE)]);
    expect(sent.map(seqsOf)).toEqual([[99], [1, 2, 3, 4]]);

    sender.send(tx(5), false);
    await turn();
    expect(sent.at(-1)!.topic).toBe(topics.tx(DEVICE));
  });

  it('keeps every message within the payload limit, and forgets what it learnt on a new connection', async () => {
    const { sent, sender, seqsOf, turn } = recorded();
    sender.hubAnsweredTogether();
    for (let seq = 1; seq <= 100; seq++) sender.send(tx(seq), false);
    await turn();
    expect(sent.length).toBeGreaterThan(1);
    for (const { payload } of sent) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(sent.every((m) => m.topic === topics.txs(DEVICE))).toBe(true);
    expect(sent.flatMap(seqsOf)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

    sent.length = 0;
    sender.connected();
    sender.send(tx(101), false);
    sender.send(tx(102), false);
    await turn();
    expect(sent.map((m) => m.topic)).toEqual([topics.tx(DEVICE), topics.tx(DEVICE)]);
  });
});
