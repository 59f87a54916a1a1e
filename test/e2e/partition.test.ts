import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import { readOutboxOnDisk, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { startEmulatedKioskHardware, type EmulatedKioskHardware } from '../helpers/kiosk-hardware.ts';
import { TestHub } from '../helpers/hub.ts';
import { waitForView } from '../helpers/kiosk-view.ts';
import { spawnKiosk, type KioskProcess } from '../helpers/kiosk-process.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { ledgerTotals, outboxTotals } from '../helpers/device-ledger.ts';
import { waitFor, withDeadline } from '../helpers/events.ts';

/** Deadlines: one step (a view change, a bill recorded, the first ack) and the drain after a heal; the tests' timeouts exceed their sums. */
const STEP_MS = 30_000;
const DRAIN_MS = 60_000;
const TEST_TIMEOUT_MS = 6 * STEP_MS + DRAIN_MS + 60_000;

/**
 * Network partitions between kiosks and the broker, made by a TCP proxy the test cuts and heals: every
 * live connection dies at once and reconnects are refused until the heal. One real kiosk process (card on
 * vpcd → pcscd, bills through the ccTalk emulator on a pty, outbox on disk) and a few simulated kiosks
 * for volume share the partition. After each heal the hub's ledger must equal the outboxes exactly: every
 * txId posted once, same count, same sum.
 */
describe('kiosk ↔ broker partitions', () => {
  let hub: TestHub;
  let proxy: TcpProxy;
  let hardware: EmulatedKioskHardware;
  let card: VirtualCard;
  let kiosk: KioskProcess;
  let fleet: Fleet;
  let member: MemberSnapshot;

  beforeAll(async () => {
    hardware = await startEmulatedKioskHardware();
    hub = await TestHub.create();
    await hub.start();
    member = await hub.member('周八', '04E1E2E3E4E5E6', 0);
    const members = [await hub.member('断一', '04EE0001'), await hub.member('断二', '04EE0002')];
    const broker = new URL(hub.running.mqttUrl);
    proxy = await startTcpProxy({ target: { host: broker.hostname, port: Number(broker.port) } });
    const proxyUrl = `mqtt://127.0.0.1:${proxy.port}`;
    card = new VirtualCard({ uid: member.cardUid });
    await card.insert(hardware.pcscd.vpcdPort);
    kiosk = await spawnKiosk(hardware.processEnv('part-real-1', proxyUrl));
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.hubConnected, STEP_MS);
    // The kiosks' own resend policy: a transaction lost without a reconnect goes out again once its ack is
    // overdue (5 s), inside the drain deadline, and backs off while a busy hub has simply not acked it yet.
    fleet = await startFleet({ url: proxyUrl, count: 5, deviceIdPrefix: 'part-sim', members });
  }, 240_000);

  afterAll(async () => {
    await fleet?.stop();
    await kiosk?.stop();
    await card?.remove();
    await proxy?.close();
    await hub?.cleanup();
    await hardware?.stop();
  });

  let billsFed = 0;
  /** Feeds one bill and waits until the kiosk has recorded it durably and told the member. */
  async function feedBill(amountFen: number): Promise<void> {
    const seq = ++billsFed;
    const recorded = waitForView(kiosk.url, (view) => view.lastTopUp?.seq === seq && view.screen.name === 'member', STEP_MS);
    expect(hardware.validator.insertBill(amountFen, { escrow: true })).toBe('escrow');
    await recorded;
  }

  /** A few top-ups on every simulated kiosk, a little apart (the pace of the traffic, not a wait for anything). */
  async function simulatedTraffic(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const sim of fleet.kiosks) sim.topUp(500 + i * 100);
      await delay(10);
    }
  }

  async function realOutbox(): Promise<OutboxEntry[]> {
    return readOutboxOnDisk(join(hardware.dataDir, 'kiosk.json'));
  }

  /**
   * The real kiosk's outbox as it is on disk once nothing in it is pending. The kiosk's view counts pending
   * entries in memory, which runs a write ahead of the file, so the file is polled rather than trusted at
   * the moment the view says zero.
   */
  async function settledRealOutbox(): Promise<OutboxEntry[]> {
    return waitFor(
      async () => {
        const outbox = await realOutbox();
        return outbox.every((entry) => entry.state !== 'pending') && outbox;
      },
      { timeoutMs: STEP_MS, what: "the real kiosk's outbox on disk to have nothing pending", describe: async () => JSON.stringify((await realOutbox()).filter((entry) => entry.state === 'pending')) },
    );
  }

  /**
   * Cuts the link on the next ack any simulated kiosk receives, inside that ack's own handler (after the kiosk
   * applied it), so however busy the machine, no further acks slip in before the cut.
   */
  function cutOnNextAck(): Promise<void> {
    const cut = new Promise<void>((resolve) => {
      const onAck = () => {
        proxy.cut();
        for (const sim of fleet.kiosks) sim.client.off('message', onAck);
        resolve();
      };
      for (const sim of fleet.kiosks) sim.client.on('message', onAck);
    });
    return withDeadline(cut, STEP_MS, 'an ack to arrive at a simulated kiosk (to cut the link on)');
  }

  const simulatedPending = () => fleet.kiosks.reduce((sum, sim) => sum + sim.pendingCount, 0);

  /** Heals, waits for every outbox to drain, then compares each kiosk's outbox with the ledger. */
  async function healAndCompare(): Promise<void> {
    proxy.heal();
    await Promise.all([
      fleet.drained(DRAIN_MS),
      waitForView(kiosk.url, (view) => view.hubConnected && view.pendingTransactions === 0, DRAIN_MS),
    ]);
    expect(fleet.duplicatePublishes()).toBe(0);
    const real = await settledRealOutbox();
    expect(real.filter((entry) => entry.state !== 'synced')).toEqual([]);
    const realPosted = await ledgerTotals(hub.running.db, 'part-real-');
    expect(realPosted).toEqual(outboxTotals(real.map((entry) => entry.tx)));
    const simulated = fleet.kiosks.flatMap((sim) => sim.transactions);
    expect(await ledgerTotals(hub.running.db, 'part-sim-')).toEqual(outboxTotals(simulated));
  }

  it('cut during transactions: recorded offline, each posted exactly once after the heal', async () => {
    await feedBill(10000);
    // The cut lands in a stream of top-ups: on the hub's first ack of them (the link is carrying this
    // traffic), with the others sent after it still in flight; the rest of the stream is recorded while cut.
    const cut = cutOnNextAck();
    const beforeCut = simulatedTraffic(20);
    await cut;
    const afterCut = simulatedTraffic(20);
    await waitForView(kiosk.url, (view) => !view.hubConnected, STEP_MS);
    // Cash keeps coming while the kiosk cannot reach the hub: the outbox on disk holds it.
    await feedBill(5000);
    await feedBill(2000);
    await Promise.all([beforeCut, afterCut]);
    expect((await realOutbox()).filter((entry) => entry.state === 'pending').length).toBeGreaterThanOrEqual(2);
    expect(simulatedPending()).toBeGreaterThan(0);
    await healAndCompare();
  }, TEST_TIMEOUT_MS);

  it('cut during sync: the link dies again while the backlog is being resent, and still nothing is lost or doubled', async () => {
    proxy.cut();
    await waitForView(kiosk.url, (view) => !view.hubConnected, STEP_MS);
    await feedBill(10000);
    await feedBill(5000);
    await simulatedTraffic(60);
    const backlog = simulatedPending();

    // Heal, and cut again the moment the backlog starts going out: on the first ack, before the last. The
    // cut happens inside the ack's own handler, so however busy the machine, no more acks slip in first.
    const connectionsBefore = proxy.connections;
    const cut = cutOnNextAck();
    proxy.heal();
    await cut;
    expect(simulatedPending()).toBeLessThan(backlog);
    expect(proxy.connections).toBeGreaterThan(connectionsBefore);
    expect(simulatedPending()).toBeGreaterThan(0);
    await feedBill(2000);
    await healAndCompare();
  }, TEST_TIMEOUT_MS);
});
