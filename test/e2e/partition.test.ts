import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import type { OutboxEntry } from '../../device/store/kiosk-store.ts';
import { startEmulatedKioskHardware, type EmulatedKioskHardware } from '../helpers/kiosk-hardware.ts';
import { TestHub } from '../helpers/hub.ts';
import { waitForView } from '../helpers/kiosk-view.ts';
import { spawnKiosk, type KioskProcess } from '../helpers/kiosk-process.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { ledgerTotals, outboxTotals } from '../helpers/device-ledger.ts';

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
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.hubConnected);
    fleet = await startFleet({ url: proxyUrl, count: 5, deviceIdPrefix: 'part-sim', members, resendIntervalMs: 2_000 });
  });

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
    const recorded = waitForView(kiosk.url, (view) => view.lastTopUp?.seq === seq && view.screen.name === 'member');
    expect(hardware.validator.insertBill(amountFen, { escrow: true })).toBe('escrow');
    await recorded;
  }

  /** A few top-ups on every simulated kiosk, a little apart, so a cut lands between and during them. */
  async function simulatedTraffic(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const sim of fleet.kiosks) sim.topUp(500 + i * 100);
      await delay(10);
    }
  }

  async function realOutbox(): Promise<OutboxEntry[]> {
    return (JSON.parse(await readFile(join(hardware.dataDir, 'kiosk.json'), 'utf8')) as { outbox: OutboxEntry[] }).outbox;
  }

  /**
   * The real kiosk's outbox as it is on disk once nothing in it is pending. The kiosk's view counts pending
   * entries in memory, which runs a write ahead of the file, so the file is polled rather than trusted at
   * the moment the view says zero.
   */
  async function settledRealOutbox(timeoutMs = 10_000): Promise<OutboxEntry[]> {
    for (const deadline = Date.now() + timeoutMs; ; await delay(50)) {
      const outbox = await realOutbox();
      if (outbox.every((entry) => entry.state !== 'pending') || Date.now() > deadline) return outbox;
    }
  }

  /** Heals, waits for every outbox to drain, then compares each kiosk's outbox with the ledger. */
  async function healAndCompare(): Promise<void> {
    proxy.heal();
    await Promise.all([
      fleet.drained(30_000),
      waitForView(kiosk.url, (view) => view.hubConnected && view.pendingTransactions === 0, 30_000),
    ]);
    const real = await settledRealOutbox();
    expect(real.filter((entry) => entry.state !== 'synced')).toEqual([]);
    const realPosted = await ledgerTotals(hub.running.db, 'part-real-');
    expect(realPosted).toEqual(outboxTotals(real.map((entry) => entry.tx)));
    const simulated = fleet.kiosks.flatMap((sim) => sim.transactions);
    expect(await ledgerTotals(hub.running.db, 'part-sim-')).toEqual(outboxTotals(simulated));
  }

  it('cut during transactions: recorded offline, each posted exactly once after the heal', async () => {
    await feedBill(10000);
    const traffic = simulatedTraffic(40);
    await delay(50);
    proxy.cut();
    await waitForView(kiosk.url, (view) => !view.hubConnected);
    // Cash keeps coming while the kiosk cannot reach the hub: the outbox on disk holds it.
    await feedBill(5000);
    await feedBill(2000);
    await traffic;
    expect((await realOutbox()).filter((entry) => entry.state === 'pending').length).toBeGreaterThanOrEqual(2);
    expect(fleet.kiosks.reduce((sum, sim) => sum + sim.pendingCount, 0)).toBeGreaterThan(0);
    await healAndCompare();
  }, 60_000);

  it('cut during sync: the link dies again while the backlog is being resent, and still nothing is lost or doubled', async () => {
    proxy.cut();
    await waitForView(kiosk.url, (view) => !view.hubConnected);
    await feedBill(10000);
    await feedBill(5000);
    await simulatedTraffic(60);
    const backlog = fleet.kiosks.reduce((sum, sim) => sum + sim.pendingCount, 0);

    // Heal, and cut again the moment the backlog starts going out: after the first acks, before the last.
    const connectionsBefore = proxy.connections;
    proxy.heal();
    const syncing = () => fleet.kiosks.reduce((sum, sim) => sum + sim.pendingCount, 0) < backlog;
    while (!syncing()) await delay(1);
    proxy.cut();
    expect(proxy.connections).toBeGreaterThan(connectionsBefore);
    expect(fleet.kiosks.reduce((sum, sim) => sum + sim.pendingCount, 0)).toBeGreaterThan(0);
    await feedBill(2000);
    await healAndCompare();
  }, 60_000);
});
