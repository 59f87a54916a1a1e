import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import { MAX_PAYLOAD_BYTES } from '../../shared/contract/decode.ts';
import type { CardLookupResponse, DeviceStatus, DeviceTransaction, MemberSnapshot, TxAck, TxAcks } from '../../shared/contract/payloads.ts';
import { waitFor } from '../helpers/events.ts';
import { RecordingClient, TestHub } from '../helpers/hub.ts';
import { linkKiosk } from '../helpers/sync-hub.ts';
import { bindCard } from '../../cloud/cards/index.ts';

const DEVICE = 'kiosk-gw-1';

function topUp(member: MemberSnapshot, seq: number, amountFen: number, txId = newId(), deviceId = DEVICE): DeviceTransaction {
  return {
    v: 1,
    txId,
    deviceId,
    seq,
    createdAt: new Date().toISOString(),
    body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen, currency: 'CNY' },
  };
}

async function ledgerCounts(hub: TestHub, idempotencyKey?: string) {
  const { db } = hub.running;
  const transactions = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger_transactions WHERE $1::text IS NULL OR idempotency_key = $1',
    [idempotencyKey ?? null],
  );
  const postings = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM postings');
  return { transactions: transactions.rows[0]!.n, postings: postings.rows[0]!.n };
}

describe('device gateway over MQTT (embedded broker, PGlite)', () => {
  const hub = { current: undefined as unknown as TestHub };
  let member: MemberSnapshot;
  let device: RecordingClient;

  beforeAll(async () => {
    hub.current = await TestHub.create();
    await hub.current.start();
    member = await hub.current.member('王五', '04C0FFEE');
    device = await RecordingClient.connect(hub.current.running.mqttUrl, DEVICE);
    await device.client.subscribeAsync([topics.txAck(DEVICE), topics.response(DEVICE, 'card.lookup')], { qos: 1 });
  });

  afterAll(async () => {
    await device?.close();
    await hub.current?.cleanup();
  });

  it('posts a transaction published 3 times, and once more after a hub restart, exactly once', async () => {
    const tx = topUp(member, 1, 10000);
    for (let i = 0; i < 3; i++) await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(tx), { qos: 1 });
    const acks = await device.waitFor<TxAck>(topics.txAck(DEVICE), 3);
    expect(acks.map((ack) => ack.status === 'ok' && ack.replay).sort()).toEqual([false, true, true]);
    for (const ack of acks) {
      expect(ack).toMatchObject({ txId: tx.txId, seq: 1, status: 'ok', member: { balances: { principalFen: 10000 } } });
    }
    expect(await ledgerCounts(hub.current, tx.txId)).toMatchObject({ transactions: 1 });

    // Restart the hub on the same data directory; the device reconnects to the new broker.
    await device.close();
    await hub.current.stop();
    await hub.current.start();
    device = await RecordingClient.connect(hub.current.running.mqttUrl, DEVICE);
    await device.client.subscribeAsync([topics.txAck(DEVICE), topics.response(DEVICE, 'card.lookup')], { qos: 1 });
    await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(tx), { qos: 1 });
    const [afterRestart] = await device.waitFor<TxAck>(topics.txAck(DEVICE), 1);
    expect(afterRestart).toMatchObject({ txId: tx.txId, status: 'ok', replay: true, member: { balances: { principalFen: 10000 } } });
    expect(await ledgerCounts(hub.current, tx.txId)).toMatchObject({ transactions: 1 });
    expect((await hub.current.running.memberByCard(member.cardUid))?.balances.principalFen).toBe(10000);
  });

  it('refuses the same transaction id with a different amount as a conflict and posts nothing', async () => {
    device.messages.length = 0;
    const first = topUp(member, 2, 500);
    await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(first), { qos: 1 });
    await device.waitFor(topics.txAck(DEVICE), 1);
    const before = await ledgerCounts(hub.current);

    await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify({ ...first, body: { ...first.body, amountFen: 50000 } }), { qos: 1 });
    const [, conflict] = await device.waitFor<TxAck>(topics.txAck(DEVICE), 2);
    expect(conflict).toMatchObject({ txId: first.txId, status: 'error', error: { code: 'IDEMPOTENCY_CONFLICT' } });
    expect(await ledgerCounts(hub.current)).toEqual(before);
  });

  it('answers an unknown member with a final error ack and an unknown card lookup with CARD_NOT_FOUND', async () => {
    device.messages.length = 0;
    const stranger = { ...member, memberId: newId() };
    const before = await ledgerCounts(hub.current);
    await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(topUp(stranger, 3, 100)), { qos: 1 });
    const [ack] = await device.waitFor<TxAck>(topics.txAck(DEVICE), 1);
    expect(ack).toMatchObject({ status: 'error', error: { code: 'MEMBER_NOT_FOUND' } });

    const correlationId = newId();
    await device.client.publishAsync(topics.request(DEVICE, 'card.lookup'), JSON.stringify({ v: 1, correlationId, cardUid: '0BADCAFE' }), { qos: 1 });
    const [lookup] = await device.waitFor<CardLookupResponse>(topics.response(DEVICE, 'card.lookup'), 1);
    expect(lookup).toEqual({ v: 1, correlationId, status: 'error', error: { code: 'CARD_NOT_FOUND', message: '此卡未登记 / This card is not registered' } });
    expect(await ledgerCounts(hub.current)).toEqual(before);
  });

  it('looks a member up by card number and answers an unknown number with CARD_NOT_FOUND', async () => {
    device.messages.length = 0;
    const operator = { type: 'operator' as const, id: 'test-operator' };
    const { ledger } = hub.current.running;
    const created = await ledger.createMember({ name: '赵六', actor: operator });
    await bindCard(hub.current.running.db, ledger, { memberId: created.memberId, cardUid: '04BEEF01', cardNumber: '6200000000000077', actor: operator });

    const found = newId();
    const unknown = newId();
    const lookup = topics.request(DEVICE, 'card.lookup');
    await device.client.publishAsync(lookup, JSON.stringify({ v: 1, correlationId: found, cardNumber: '6200000000000077' }), { qos: 1 });
    await device.client.publishAsync(lookup, JSON.stringify({ v: 1, correlationId: unknown, cardNumber: '6200000000000078' }), { qos: 1 });
    // Lookups are answered concurrently, so the two responses may come in either order.
    const responses = await device.waitFor<CardLookupResponse>(topics.response(DEVICE, 'card.lookup'), 2);
    const byId = new Map(responses.map((response) => [response.correlationId, response]));
    expect(byId.get(found)).toEqual({
      v: 1,
      correlationId: found,
      status: 'ok',
      data: expect.objectContaining({ memberId: created.memberId, cardUid: '04BEEF01', cardNumber: '6200000000000077' }),
    });
    expect(byId.get(unknown)).toEqual({
      v: 1,
      correlationId: unknown,
      status: 'error',
      error: { code: 'CARD_NOT_FOUND', message: '此卡未登记 / This card is not registered' },
    });
  });

  it("answers the kiosk's HubLink looking up by card number or by UID", async () => {
    const operator = { type: 'operator' as const, id: 'test-operator' };
    const { ledger, mqttUrl } = hub.current.running;
    const created = await ledger.createMember({ name: '钱七', actor: operator });
    await bindCard(hub.current.running.db, ledger, { memberId: created.memberId, cardUid: '04BEEF02', cardNumber: '6200000000000088', actor: operator });
    const kiosk = await linkKiosk({ mqttUrl }, 'kiosk-gw-link');
    const { link } = kiosk;
    try {
      const expected = { found: true, member: { memberId: created.memberId, cardUid: '04BEEF02', cardNumber: '6200000000000088' } };
      expect(await link.lookupCard({ cardNumber: '6200000000000088' })).toMatchObject(expected);
      expect(await link.lookupCard({ cardUid: '04BEEF02' })).toMatchObject(expected);
      expect(await link.lookupCard({ cardNumber: '6200000000000089' })).toMatchObject({ found: false, code: 'CARD_NOT_FOUND' });
    } finally {
      await kiosk.stop();
    }
  });

  it('sends the acks of one commit together on tx/acks to a kiosk whose status asks for it, and one by one to any other', async () => {
    const batched = 'kiosk-gw-batched';
    const kiosk = await RecordingClient.connect(hub.current.running.mqttUrl, batched);
    try {
      await kiosk.client.subscribeAsync([topics.txAck(batched), topics.txAcks(batched)], { qos: 1 });
      const status: DeviceStatus = { v: 1, deviceId: batched, state: 'online', at: new Date().toISOString(), batchedAcks: true };
      await kiosk.client.publishAsync(topics.status(batched), JSON.stringify(status), { qos: 1, retain: true });
      await device.client.subscribeAsync(topics.txAcks(DEVICE), { qos: 1 });
      device.messages.length = 0;

      // Five top-ups each, sent at once: while the first batch commits the others queue up for the next one.
      const sent = { [batched]: [] as string[], [DEVICE]: [] as string[] };
      for (let seq = 1; seq <= 5; seq++) {
        const mine = topUp(member, seq, 100, newId(), batched);
        const other = topUp(member, 100 + seq, 100);
        sent[batched].push(mine.txId);
        sent[DEVICE].push(other.txId);
        kiosk.client.publish(topics.tx(batched), JSON.stringify(mine), { qos: 1 });
        device.client.publish(topics.tx(DEVICE), JSON.stringify(other), { qos: 1 });
      }
      const acksOf = (client: RecordingClient, deviceId: string) =>
        client.messages.flatMap(({ topic, payload }): TxAck[] => {
          if (topic === topics.txAck(deviceId)) return [JSON.parse(payload.toString()) as TxAck];
          return topic === topics.txAcks(deviceId) ? (JSON.parse(payload.toString()) as TxAcks).acks : [];
        });
      await kiosk.waitUntil(() => acksOf(kiosk, batched).length >= 5, () => `5 acks for ${batched}; got ${acksOf(kiosk, batched).length}`);
      await device.waitFor(topics.txAck(DEVICE), 5);

      expect(acksOf(kiosk, batched).map((ack) => ack.txId).sort()).toEqual([...sent[batched]].sort());
      expect(acksOf(kiosk, batched).every((ack) => ack.status === 'ok')).toBe(true);
      const together = kiosk.messages.filter(({ topic }) => topic === topics.txAcks(batched)).map(({ payload }) => (JSON.parse(payload.toString()) as TxAcks).acks.length);
      expect(together.length).toBeGreaterThan(0);
      expect(Math.max(...together)).toBeGreaterThan(1);
      expect(acksOf(device, DEVICE).map((ack) => ack.txId).sort()).toEqual([...sent[DEVICE]].sort());
      expect(device.messages.filter(({ topic }) => topic === topics.txAcks(DEVICE))).toEqual([]);
    } finally {
      await kiosk.close();
    }
  });

  it('applies the transactions of one txs message each as if it had come alone; one of another device is refused alone', async () => {
    const gateway = hub.current.running.gateway;
    const invalidBefore = gateway.counters.invalid;
    const before = await ledgerCounts(hub.current);
    device.messages.length = 0;
    const mine = [topUp(member, 201, 100), topUp(member, 202, 100)];
    const foreign = topUp(member, 203, 100, newId(), 'kiosk-gw-other');
    await device.client.publishAsync(topics.txs(DEVICE), JSON.stringify({ v: 1, txs: [mine[0], foreign, mine[1]] }), { qos: 1 });
    await device.client.publishAsync(topics.txs(DEVICE), JSON.stringify({ v: 1, txs: [] }), { qos: 1 });
    await device.client.publishAsync(topics.txs(DEVICE), '{"v":1,"txs":', { qos: 1 });
    const acks = await device.waitFor<TxAck>(topics.txAck(DEVICE), 2);
    expect(acks.map((ack) => ack.txId).sort()).toEqual(mine.map((tx) => tx.txId).sort());
    expect(acks.every((ack) => ack.status === 'ok')).toBe(true);
    await waitFor(() => gateway.counters.invalid - invalidBefore >= 3, { what: 'the foreign transaction and both bad messages to be refused' });
    expect(gateway.counters.invalid - invalidBefore).toBe(3);
    expect((await ledgerCounts(hub.current)).transactions).toBe(before.transactions + 2);
    expect(await ledgerCounts(hub.current, foreign.txId)).toMatchObject({ transactions: 0 });
  });

  it('rejects malformed and hostile payloads with a logged reason and leaves the ledger unchanged', async () => {
    device.messages.length = 0;
    const gateway = hub.current.running.gateway;
    const invalidBefore = gateway.counters.invalid;
    const before = await ledgerCounts(hub.current);
    const good = topUp(member, 4, 100);
    const hostile: Array<string | Buffer> = [
      'not json',
      '{}',
      JSON.stringify({ ...good, deviceId: 'someone-else' }),
      JSON.stringify({ ...good, body: { ...good.body, amountFen: 100.5 } }),
      JSON.stringify({ ...good, body: { ...good.body, amountFen: -100 } }),
      JSON.stringify({ ...good, body: { ...good.body, amountFen: Number.MAX_SAFE_INTEGER } }),
      JSON.stringify({ ...good, body: { ...good.body, cardUid: "04C0FFEE' OR 1=1" } }),
      JSON.stringify({ ...good, extra: 'field' }),
      Buffer.alloc(MAX_PAYLOAD_BYTES + 10, 0x7b),
    ];
    for (const payload of hostile) await device.client.publishAsync(topics.tx(DEVICE), payload, { qos: 1 });
    // Malformed card lookups get no answer either: a request that breaks the contract is not answered at all.
    const correlationId = newId();
    const badLookups = [
      { v: 1, cardUid: '04C0FFEE' },
      { v: 1, correlationId, cardUid: '04C0FFEE', cardNumber: '6200000000000077' },
      { v: 1, correlationId },
      { v: 1, correlationId, cardNumber: '620000000000007' },
      { v: 1, correlationId, cardNumber: '6200 0000 0000 0077' },
      { v: 1, correlationId, cardNumber: 6200000000000077 },
    ];
    for (const bad of badLookups) {
      await device.client.publishAsync(topics.request(DEVICE, 'card.lookup'), JSON.stringify(bad), { qos: 1 });
    }

    // Messages from one client arrive in order, so once the valid one is acknowledged all the others were handled.
    await device.client.publishAsync(topics.tx(DEVICE), JSON.stringify(good), { qos: 1 });
    const acks = await device.waitFor<TxAck>(topics.txAck(DEVICE), 1);
    expect(acks).toEqual([expect.objectContaining({ txId: good.txId, status: 'ok' })]);
    expect(gateway.counters.invalid - invalidBefore).toBe(hostile.length + badLookups.length);
    const after = await ledgerCounts(hub.current);
    expect(after.transactions).toBe(before.transactions + 1);
    expect(device.messages.filter((m) => m.topic === topics.response(DEVICE, 'card.lookup'))).toEqual([]);
  });
});
