import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, MemberSnapshot, SyncRequest } from '../../shared/contract/payloads.ts';
import type { OutboxEntry } from '../../device/store/kiosk-store.ts';
import { nextEvent } from '../helpers/events.ts';
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
    await observer.client.subscribeAsync([topics.tx(id), topics.sync(id)], { qos: 1 });
  });

  afterAll(async () => {
    await observer?.close();
    await kiosk?.stop();
    await hub?.stop();
  });

  it('publishes the missing entries at once and in order, and the hub ends contiguous', async () => {
    const { store, link } = kiosk;
    const entries: OutboxEntry[] = [];
    for (const amountFen of [100, 200, 300]) entries.push(await store.recordCashTopUp({ deviceId: id, member, amountFen }));
    const allSettled = Promise.all(entries.map((entry) => nextEvent<OutboxEntry>(link, 'settled', (e) => e.tx.txId === entry.tx.txId)));

    // Only seq 3 makes it out (1 and 2 were lost while the hub's session was down, say).
    link.publish(entries[2]!);

    const [request] = await observer.waitFor<SyncRequest>(topics.sync(id), 1);
    expect(request).toEqual({ v: 1, fromSeq: 1, toSeq: 2 });
    const settled = await allSettled;
    expect(settled.map((entry) => entry.state)).toEqual(['synced', 'synced', 'synced']);
    const published = await observer.waitFor<DeviceTransaction>(topics.tx(id), 3);
    expect(published.map((tx) => tx.seq)).toEqual([3, 1, 2]);
    expect(await hub.sync.sequences.contiguous(id)).toBe(3);
    expect((await hub.memberByCard(member.cardUid))?.balances.principalFen).toBe(600);
  });

  it('offers synced entries for a resend (the hub asking means it lost them; replay keeps it safe) but never rejected ones', async () => {
    const { store } = kiosk;
    const rejected = await store.recordCashTopUp({ deviceId: id, member, amountFen: 400 });
    const error = { code: 'CARD_NOT_FOUND', message: 'gone' };
    await store.applyAck({ v: 1, txId: rejected.tx.txId, seq: rejected.tx.seq, status: 'error', error });
    expect(store.resendable(1, 4).map((entry) => [entry.tx.seq, entry.state])).toEqual([
      [1, 'synced'],
      [2, 'synced'],
      [3, 'synced'],
    ]);
    expect(store.resendable(2, 2).map((entry) => entry.tx.seq)).toEqual([2]);
  });
});
