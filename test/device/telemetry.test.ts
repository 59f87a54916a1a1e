import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { KioskHealthRegistry } from '../../device/health/kiosk-health.ts';
import { initialHealth } from '../../device/health/peripheral-health.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { HubLink } from '../../device/sync/hub-link.ts';
import { startTelemetry, type Telemetry } from '../../device/sync/telemetry.ts';
import { decodePayload } from '../../shared/contract/decode.ts';
import { DeviceTelemetry } from '../../shared/contract/fleet.ts';
import { topics } from '../../shared/contract/topics.ts';
import { createLogger } from '../../shared/logger.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { nextEvent, withDeadline } from '../helpers/events.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';

const DEVICE = 'kiosk-tele-1';
const logger = createLogger('test');

describe('kiosk telemetry', () => {
  let broker: EmbeddedBroker;
  let dir: string;
  let store: KioskStore;
  let hub: HubLink;
  let health: KioskHealthRegistry;
  let telemetry: Telemetry | undefined;
  let watcher: RecordingClient;

  beforeEach(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger });
    dir = await mkdtemp(join(tmpdir(), 'mk-telemetry-'));
    store = await KioskStore.open(join(dir, 'kiosk.json'));
    hub = new HubLink({ url: broker.url, deviceId: DEVICE, softwareVersion: '9.8.7', store, logger });
    health = new KioskHealthRegistry();
    health.report({ ...initialHealth('nfc-reader', 'ACR122U'), present: true, ready: true });
    watcher = await RecordingClient.connect(broker.url, 'watcher');
    await watcher.client.subscribeAsync(topics.telemetry(DEVICE), { qos: 1 });
  });

  afterEach(async () => {
    telemetry?.stop();
    await hub.stop();
    await watcher.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes retained telemetry on connect with version, uptime, memory, health, outbox backlog and link state', async () => {
    const createdAt = Date.now();
    await store.recordCashTopUp({ deviceId: DEVICE, member: memberSnapshot(), amountFen: 10_000 });
    const later = new Date(createdAt + 90_000);
    telemetry = startTelemetry({ hub, health, store, deviceId: DEVICE, softwareVersion: '9.8.7', now: () => later });
    hub.start();
    const [message] = await watcher.waitFor(topics.telemetry(DEVICE));
    const decoded = decodePayload(DeviceTelemetry, JSON.stringify(message));
    expect(decoded.ok).toBe(true);
    expect(message).toMatchObject({
      deviceId: DEVICE,
      softwareVersion: '9.8.7',
      uptimeSeconds: 0,
      health: { overall: 'ok', peripherals: [{ kind: 'nfc-reader', name: 'ACR122U', present: true, ready: true, fault: null }] },
      outbox: { depth: 1 },
      hubLink: { connected: true, lastSyncAt: null },
    });
    const { outbox, memoryRssBytes } = message as DeviceTelemetry;
    expect(outbox.oldestAgeSeconds).toBeGreaterThanOrEqual(89);
    expect(outbox.oldestAgeSeconds).toBeLessThanOrEqual(91);
    expect(memoryRssBytes).toBeGreaterThan(1_000_000);

    // Retained: a subscriber arriving later (a restarted hub) gets it at once.
    const late = await RecordingClient.connect(broker.url, 'late');
    await late.client.subscribeAsync(topics.telemetry(DEVICE));
    await late.waitFor(topics.telemetry(DEVICE));
    await late.close();
  });

  it('publishes a burst of health changes as one debounced message', async () => {
    telemetry = startTelemetry({ hub, health, store, deviceId: DEVICE, softwareVersion: '9.8.7', debounceMs: 50 });
    hub.start();
    await watcher.waitFor(topics.telemetry(DEVICE));
    const fault = { code: 'paper-end', message: 'out of paper', since: new Date().toISOString() };
    health.report({ ...initialHealth('printer', 'p1'), present: true, ready: true, paper: 'near-end' });
    health.report({ ...initialHealth('printer', 'p1'), present: true, ready: false, paper: 'out', fault });
    const [, second] = await watcher.waitFor<DeviceTelemetry>(topics.telemetry(DEVICE), 2);
    expect(second!.health.overall).toBe('degraded');
    expect(second!.health.peripherals.find((p) => p.kind === 'printer')).toMatchObject({ paper: 'out', fault: { code: 'paper-end' } });
    expect(watcher.messages.filter((m) => m.topic === topics.telemetry(DEVICE))).toHaveLength(2);
  });

  it('publishes on its interval even when nothing changed', async () => {
    hub.start();
    await nextEvent(hub, 'connected');
    telemetry = startTelemetry({ hub, health, store, deviceId: DEVICE, softwareVersion: '9.8.7', intervalMs: 30 });
    const [first] = await watcher.waitFor<DeviceTelemetry>(topics.telemetry(DEVICE));
    expect(first!.hubLink.lastSyncAt).toBeNull();
    // The hub acknowledging a transaction is a sync; the next message says when.
    const entry = await store.recordCashTopUp({ deviceId: DEVICE, member: memberSnapshot(), amountFen: 100 });
    const synced = new Promise<DeviceTelemetry>((resolve) => {
      const listener = (_topic: string, payload: Buffer) => {
        const message = JSON.parse(payload.toString()) as DeviceTelemetry;
        if (message.hubLink.lastSyncAt === null) return;
        watcher.client.off('message', listener);
        resolve(message);
      };
      watcher.client.on('message', listener);
    });
    hub.emit('settled', { ...entry, state: 'synced' });
    expect(Date.parse((await withDeadline(synced, 20_000, 'telemetry that carries the sync')).hubLink.lastSyncAt!)).toBeGreaterThan(0);
  });
});
