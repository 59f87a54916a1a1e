import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, MemberSnapshot, SyncRequest, TxAck } from '../../shared/contract/payloads.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { SyncHub } from '../helpers/sync-hub.ts';

function topUp(deviceId: string, member: MemberSnapshot, seq: number, amountFen: number, txId = newId()): DeviceTransaction {
  return {
    v: 1,
    txId,
    deviceId,
    seq,
    createdAt: new Date().toISOString(),
    body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen, currency: 'CNY' },
  };
}

describe('device sequences at the hub (gateway with sync, embedded broker, PGlite)', () => {
  let hub: SyncHub;
  let member: MemberSnapshot;
  const devices: RecordingClient[] = [];

  async function device(deviceId: string): Promise<RecordingClient> {
    const client = await RecordingClient.connect(hub.mqttUrl, deviceId);
    await client.client.subscribeAsync([topics.txAck(deviceId), topics.sync(deviceId)], { qos: 1 });
    devices.push(client);
    return client;
  }

  const send = (client: RecordingClient, tx: DeviceTransaction) => client.client.publishAsync(topics.tx(tx.deviceId), JSON.stringify(tx), { qos: 1 });

  async function deviceTransactions(deviceId: string): Promise<number[]> {
    const { rows } = await hub.db.query<{ device_seq: number }>(
      'SELECT device_seq FROM ledger_transactions WHERE device_id = $1 ORDER BY device_seq',
      [deviceId],
    );
    return rows.map((row) => row.device_seq);
  }

  beforeAll(async () => {
    hub = await SyncHub.start();
    member = await hub.member('赵六', '04AB12CD');
  });

  afterAll(async () => {
    await Promise.all(devices.map((client) => client.close()));
    await hub?.stop();
  });

  it('applies a transaction past a hole, asks for the hole, and is contiguous once it is filled', async () => {
    const id = 'kiosk-seq-gap';
    const client = await device(id);
    const [first, second, third] = [1, 2, 3].map((seq) => topUp(id, member, seq, 100 * seq));

    await send(client, first!);
    await client.waitFor<TxAck>(topics.txAck(id), 1);
    expect(await hub.sync.sequences.contiguous(id)).toBe(1);

    // Seq 2 is lost on the way: seq 3 is still applied (its txId keeps it exactly once), and the hub asks for 2.
    await send(client, third!);
    const [request] = await client.waitFor<SyncRequest>(topics.sync(id), 1);
    expect(request).toEqual({ v: 1, fromSeq: 2, toSeq: 2 });
    const acks = await client.waitFor<TxAck>(topics.txAck(id), 2);
    expect(acks[1]).toMatchObject({ txId: third!.txId, status: 'ok', replay: false });
    expect(await hub.sync.sequences.contiguous(id)).toBe(1);

    await send(client, second!);
    const all = await client.waitFor<TxAck>(topics.txAck(id), 3);
    expect(all[2]).toMatchObject({ txId: second!.txId, status: 'ok', replay: false });
    expect(await hub.sync.sequences.contiguous(id)).toBe(3);
    expect(await deviceTransactions(id)).toEqual([1, 2, 3]);
    // Filling the hole left none, so nothing more was asked for.
    expect(client.messages.filter((m) => m.topic === topics.sync(id))).toHaveLength(1);
  });

  it('asks once per hole, not once per transaction past it', async () => {
    const id = 'kiosk-seq-burst';
    const client = await device(id);
    for (const seq of [2, 3, 4]) {
      await send(client, topUp(id, member, seq, 100));
      await client.waitFor<TxAck>(topics.txAck(id), seq - 1);
    }
    expect((await client.waitFor<SyncRequest>(topics.sync(id), 1))[0]).toEqual({ v: 1, fromSeq: 1, toSeq: 1 });
    expect(client.messages.filter((m) => m.topic === topics.sync(id))).toHaveLength(1);
  });

  it('refuses a second transaction with a used sequence number as a conflict and posts nothing', async () => {
    const id = 'kiosk-seq-conflict';
    const client = await device(id);
    const original = topUp(id, member, 1, 500);
    const impostor = topUp(id, member, 1, 700);
    const conflictsBefore = hub.gateway.counters.conflicts;

    await send(client, original);
    await client.waitFor<TxAck>(topics.txAck(id), 1);
    await send(client, impostor);
    const [, refused] = await client.waitFor<TxAck>(topics.txAck(id), 2);
    expect(refused).toMatchObject({ txId: impostor.txId, seq: 1, status: 'error', error: { code: 'SEQUENCE_CONFLICT' } });
    expect(hub.gateway.counters.conflicts).toBe(conflictsBefore + 1);
    expect(hub.conflictsReported).toContain(id);
    expect(await deviceTransactions(id)).toEqual([1]);
    const { rows } = await hub.db.query('SELECT 1 FROM ledger_transactions WHERE idempotency_key = $1', [impostor.txId]);
    expect(rows).toEqual([]);

    // The original, replayed, is still answered with its first result.
    await send(client, original);
    const [, , replayed] = await client.waitFor<TxAck>(topics.txAck(id), 3);
    expect(replayed).toMatchObject({ txId: original.txId, status: 'ok', replay: true });
  });

  it('in one batch too: the first of two txIds with one sequence number posts, the second is a conflict', async () => {
    const id = 'kiosk-seq-conflict-batch';
    const client = await device(id);
    const original = topUp(id, member, 1, 500);
    const impostor = topUp(id, member, 1, 700);
    // Published back to back, they reach the hub's batcher together (whatever batches they land in, in this order).
    await Promise.all([send(client, original), send(client, impostor), send(client, original)]);
    const acks = await client.waitFor<TxAck>(topics.txAck(id), 3);
    expect(acks.filter((ack) => ack.txId === impostor.txId)).toEqual([expect.objectContaining({ status: 'error', error: expect.objectContaining({ code: 'SEQUENCE_CONFLICT' }) })]);
    expect(acks.filter((ack) => ack.txId === original.txId).map((ack) => ack.status === 'ok' && ack.replay).sort()).toEqual([false, true]);
    expect(await deviceTransactions(id)).toEqual([1]);
    expect((await hub.memberByCard(member.cardUid))?.balances.principalFen).toBeGreaterThan(0);
  });
});
