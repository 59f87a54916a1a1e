import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { HubLink, type HubLinkOptions, type PublishedTx } from '../../device/sync/hub-link.ts';
import { topics } from '../../shared/contract/topics.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { DeviceTransaction, MemberSnapshot, TxAck } from '../../shared/contract/payloads.ts';
import { createLogger } from '../../shared/logger.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { nextEvent, withDeadline } from '../helpers/events.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { SyncHub } from '../helpers/sync-hub.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const logger = createLogger('test-resend-stream');

/** A kiosk's store in a temp dir and a HubLink on it, not started; stop() removes both. */
async function kioskOn(url: string, deviceId: string, options: Partial<HubLinkOptions>) {
  const dir = await mkdtemp(join(tmpdir(), 'mk-resend-'));
  const store = await KioskStore.open(join(dir, 'kiosk.json'));
  const link = new HubLink({ url, deviceId, softwareVersion: 'test', store, logger: logger.child({ deviceId }), ...options });
  /** Every publish the link makes, in order. */
  const published: PublishedTx[] = [];
  link.on('published', (tx) => published.push(tx));
  return {
    store,
    link,
    published,
    async stop() {
      await link.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `link` has made `count` publishes accepted by `accept`, with all of them. */
function publishes(link: HubLink, count: number, accept: (tx: PublishedTx) => boolean, what: string): Promise<PublishedTx[]> {
  const seen: PublishedTx[] = [];
  return withDeadline(
    new Promise((resolve) => {
      const listener = (tx: PublishedTx) => {
        if (!accept(tx)) return;
        seen.push(tx);
        if (seen.length < count) return;
        link.off('published', listener);
        resolve(seen);
      };
      link.on('published', listener);
    }),
    20_000,
    what,
  );
}

describe('a backlog streams to the hub in a bounded window (HubLink + KioskStore, gateway with sync)', () => {
  const id = 'kiosk-backlog-1';
  const BACKLOG = 300;
  const WINDOW = 16;
  let hub: SyncHub;
  let observer: RecordingClient;
  let kiosk: Awaited<ReturnType<typeof kioskOn>>;
  let members: MemberSnapshot[];

  beforeAll(async () => {
    hub = await SyncHub.start();
    members = [await hub.member('流甲', '04CAFE01'), await hub.member('流乙', '04CAFE02'), await hub.member('流丙', '04CAFE03')];
    observer = await RecordingClient.connect(hub.mqttUrl, 'observer-backlog');
    await observer.client.subscribeAsync(topics.tx(id), { qos: 1 });
    // A minute before an ack is overdue: the test is about the stream itself never publishing anything twice,
    // not about how fast this machine's hub is today.
    kiosk = await kioskOn(hub.mqttUrl, id, { resend: { window: WINDOW, ackTimeoutMs: 60_000 } });
  });

  afterAll(async () => {
    await kiosk?.stop();
    await observer?.close();
    await hub?.stop();
  });

  it('drains in sequence order, never more than the window in flight, each transaction published once', async () => {
    const { store, link, published } = kiosk;
    // Recorded offline, as the kiosk flow does: durably, then handed to the link, which has not connected yet.
    for (let i = 0; i < BACKLOG; i++) link.publish(await store.recordCashTopUp({ deviceId: id, member: members[i % 3]!, amountFen: 100 + (i % 5) * 100 }));

    const firstPublished = new Set<string>();
    let settled = 0;
    let maxInFlight = 0;
    link.on('published', (tx) => {
      firstPublished.add(tx.txId);
      maxInFlight = Math.max(maxInFlight, firstPublished.size - settled);
    });
    const allSettled = new Promise<void>((resolve) =>
      link.on('settled', () => {
        settled += 1;
        if (settled === BACKLOG) resolve();
      }),
    );
    link.start();
    await withDeadline(allSettled, 60_000, `all ${BACKLOG} transactions to be acknowledged`);

    const inOrder = Array.from({ length: BACKLOG }, (_, i) => i + 1);
    expect(published.map((tx) => tx.seq)).toEqual(inOrder);
    expect(published.every((tx) => tx.send?.attempts === 1)).toBe(true);
    // The whole window went out at the connect, and never more than that.
    expect(maxInFlight).toBe(WINDOW);
    // What the broker carried, apart from the link's own account: each seq once, in order.
    const carried = await observer.waitFor<DeviceTransaction>(topics.tx(id), BACKLOG);
    expect(carried.map((tx) => tx.seq)).toEqual(inOrder);

    expect(store.pending()).toEqual([]);
    expect(await hub.sync.sequences.contiguous(id)).toBe(BACKLOG);
    const expected = [0, 1, 2].map((m) => inOrder.filter((seq) => (seq - 1) % 3 === m).reduce((sum, seq) => sum + 100 + ((seq - 1) % 5) * 100, 0));
    const balances = await Promise.all(members.map(async (member) => (await hub.memberByCard(member.cardUid))!.balances.principalFen));
    expect(balances).toEqual(expected);
  });
});

describe('a transaction whose ack does not come (a real broker, the test as a silent hub)', () => {
  let broker: EmbeddedBroker;
  let proxy: TcpProxy;
  let fakeHub: RecordingClient;
  const member = memberSnapshot();

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
    proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: broker.port } });
    fakeHub = await RecordingClient.connect(broker.url, 'silent-hub');
    await fakeHub.client.subscribeAsync([topics.tx('kiosk-silent-1'), topics.tx('kiosk-silent-2')], { qos: 1 });
  });

  afterAll(async () => {
    await fakeHub?.close();
    await proxy?.close();
    await broker?.close();
  });

  it('is published again once overdue, then after ever longer back-off up to the cap, and settles when the ack comes', async () => {
    const id = 'kiosk-silent-1';
    // No jitter (random() = 0.5): waits of exactly 100, 200, 400 ms, then the 400 ms cap.
    const kiosk = await kioskOn(broker.url, id, { resend: { ackTimeoutMs: 100, maxBackoffMs: 400 }, random: () => 0.5 });
    try {
      const entry = await kiosk.store.recordCashTopUp({ deviceId: id, member, amountFen: 500 });
      kiosk.link.publish(entry);
      const fivePublishes = publishes(kiosk.link, 5, (tx) => tx.txId === entry.tx.txId, 'five publishes of the unacknowledged transaction');
      kiosk.link.start();
      const sent = (await fivePublishes).map((tx) => tx.send!);

      expect(sent.map((send) => send.attempts)).toEqual([1, 2, 3, 4, 5]);
      // Rounded: the times are performance.now() readings, whose differences carry float error (399.99999999999…).
      expect(sent.map((send) => Math.round(send.resendAt - send.lastSentAt))).toEqual([100, 200, 400, 400, 400]);
      // Each publish came no sooner than the previous one's ack was overdue and its back-off had run out.
      for (let i = 1; i < sent.length; i++) expect(sent[i]!.lastSentAt).toBeGreaterThanOrEqual(sent[i - 1]!.resendAt);
      const carried = await fakeHub.waitFor<DeviceTransaction>(topics.tx(id), 5);
      expect(carried.every((tx) => tx.txId === entry.tx.txId)).toBe(true);

      const settled = nextEvent<OutboxEntry>(kiosk.link, 'settled', (e) => e.tx.txId === entry.tx.txId);
      const ack: TxAck = { v: 1, txId: entry.tx.txId, seq: entry.tx.seq, status: 'ok', replay: true, member };
      await fakeHub.client.publishAsync(topics.txAck(id), encodePayload(ack), { qos: 1 });
      expect(await settled).toMatchObject({ state: 'synced' });
    } finally {
      await kiosk.stop();
    }
  });

  it('after a reconnect streams again from the oldest pending transaction, within the window', async () => {
    const id = 'kiosk-silent-2';
    const kiosk = await kioskOn(`mqtt://127.0.0.1:${proxy.port}`, id, { resend: { window: 2, ackTimeoutMs: 60_000 } });
    try {
      for (const amountFen of [100, 200, 300, 400]) kiosk.link.publish(await kiosk.store.recordCashTopUp({ deviceId: id, member, amountFen }));
      const connected = nextEvent(kiosk.link, 'connected');
      kiosk.link.start();
      await connected;
      expect(kiosk.published.map((tx) => [tx.seq, tx.send!.attempts])).toEqual([[1, 1], [2, 1]]);

      const disconnected = nextEvent(kiosk.link, 'disconnected');
      proxy.cut();
      await disconnected;
      const before = kiosk.published.length;
      const reconnected = nextEvent(kiosk.link, 'connected', () => true, { timeoutMs: 20_000, what: 'the link to reconnect' });
      proxy.heal();
      await reconnected;
      // Whatever was in flight may have lost its ack with the clean session: 1 and 2 again, each starting over.
      expect(kiosk.published.slice(before).map((tx) => [tx.seq, tx.send!.attempts])).toEqual([[1, 1], [2, 1]]);
    } finally {
      await kiosk.stop();
    }
  });
});
