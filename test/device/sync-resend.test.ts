import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, DeviceTransactions, MemberSnapshot, SyncRequest, TxAcks } from '../../shared/contract/payloads.ts';
import type { OutboxEntry } from '../../device/store/kiosk-store.ts';
import { nextEvent, waitFor } from '../helpers/events.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { linkKiosk, SyncHub, type LinkedKiosk } from '../helpers/sync-hub.ts';

describe('kiosk resends a sequence gap the hub asks for (HubLink + KioskStore, gateway with sync)', () => {
  const id = 'kiosk-resend-1';
  let hub: SyncHub;
  let kiosk: LinkedKiosk;
  let observer: RecordingClient;
  let member: MemberSnapshot;

  beforeAll(async () => {
    hub = await SyncHub.start();
    member = await hub.member('孙七', '04BEEF01');
    kiosk = await linkKiosk(hub, id);
    observer = await RecordingClient.connect(hub.mqttUrl, 'observer-resend');
    await observer.client.subscribeAsync([topics.tx(id), topics.txs(id), topics.sync(id), topics.txAcks(id)], { qos: 1 });
  });

  afterAll(async () => {
    await observer?.close();
    await kiosk?.stop();
    await hub?.stop();
  });

  it('publishes entries the hub lost at once and in order, and the hub ends contiguous', async () => {
    const { store, link } = kiosk;
    const entries: OutboxEntry[] = [];
    for (const amountFen of [100, 200, 300]) entries.push(await store.recordCashTopUp({ deviceId: id, member, amountFen }));
    // The hub lost 1 and 2 after acknowledging them (its database restored from a backup, say): the kiosk
    // holds them as synced, so only the hub's request can bring them out again; the stream carries only 3.
    for (const entry of entries.slice(0, 2)) {
      await store.applyAck({ v: 1, txId: entry.tx.txId, seq: entry.tx.seq, status: 'ok', replay: false, member });
    }
    const thirdSettled = nextEvent<OutboxEntry>(link, 'settled', (e) => e.tx.txId === entries[2]!.tx.txId);
    link.publish(entries[2]!);

    const [request] = await observer.waitFor<SyncRequest>(topics.sync(id), 1);
    expect(request).toEqual({ v: 1, fromSeq: 1, toSeq: 2 });
    expect(await thirdSettled).toMatchObject({ state: 'synced' });
    const published = await observer.waitFor<DeviceTransaction>(topics.tx(id), 3);
    expect(published.map((tx) => tx.seq)).toEqual([3, 1, 2]);
    await waitFor(async () => (await hub.sync.sequences.contiguous(id)) === 3, { what: 'the hub to hold seq 1..3' });
    expect((await hub.memberByCard(member.cardUid))?.balances.principalFen).toBe(600);
  });

  it('offers synced entries for a resend (the hub asking means it lost them; replay keeps it safe) but never rejected ones', async () => {
    const { store, link } = kiosk;
    // The stream carries it as soon as the link looks at the outbox; the hub refuses a card it does not know.
    const rejected = await store.recordCashTopUp({ deviceId: id, member: { ...member, cardUid: '04DEAD99' }, amountFen: 400 });
    const settled = nextEvent<OutboxEntry>(link, 'settled', (e) => e.tx.txId === rejected.tx.txId);
    link.publish(rejected);
    expect(await settled).toMatchObject({ state: 'rejected', error: { code: 'CARD_NOT_FOUND' } });
    expect(store.resendable(1, 4).map((entry) => [entry.tx.seq, entry.state])).toEqual([
      [1, 'synced'],
      [2, 'synced'],
      [3, 'synced'],
    ]);
    expect(store.resendable(2, 2).map((entry) => entry.tx.seq)).toEqual([2]);
  });

  it('settles each of the acks one commit sends together on tx/acks, as its status asked, and then sends together on txs', async () => {
    const { store, link } = kiosk;
    observer.messages.length = 0;
    const entries: OutboxEntry[] = [];
    for (let i = 0; i < 6; i++) entries.push(await store.recordCashTopUp({ deviceId: id, member, amountFen: 10 }));
    const settled = entries.map((entry) => nextEvent<OutboxEntry>(link, 'settled', (e) => e.tx.txId === entry.tx.txId));
    // All at once: while the hub commits the first, the others wait for the next batch, whose acks go together.
    for (const entry of entries) link.publish(entry);
    for (const entry of await Promise.all(settled)) expect(entry.state).toBe('synced');
    const together = await observer.waitFor<TxAcks>(topics.txAcks(id), 1);
    expect(together[0]!.acks.length).toBeGreaterThan(1);
    expect(together[0]!.acks.every((ack) => entries.some((entry) => entry.tx.txId === ack.txId))).toBe(true);

    // Having heard the hub answer on tx/acks, the link sends what it hands over in one turn together on txs.
    const more: OutboxEntry[] = [];
    for (let i = 0; i < 3; i++) more.push(await store.recordCashTopUp({ deviceId: id, member, amountFen: 10 }));
    const moreSettled = more.map((entry) => nextEvent<OutboxEntry>(link, 'settled', (e) => e.tx.txId === entry.tx.txId));
    for (const entry of more) link.publish(entry);
    for (const entry of await Promise.all(moreSettled)) expect(entry.state).toBe('synced');
    const groups = () =>
      observer.messages.filter(({ topic }) => topic === topics.txs(id)).map(({ payload }) => (JSON.parse(payload.toString()) as DeviceTransactions).txs.map((tx) => tx.seq));
    const moreSeqs = more.map((entry) => entry.tx.seq);
    await observer.waitUntil(() => groups().some((seqs) => seqs.join() === moreSeqs.join()), () => `seq ${moreSeqs.join(', ')} together on txs; got ${JSON.stringify(groups())}`);
  });
});
