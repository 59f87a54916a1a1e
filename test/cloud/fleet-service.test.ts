import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { startFleet, type Fleet } from '../../cloud/fleet/fleet-service.ts';
import type { FleetDevice } from '../../cloud/fleet/registry.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import type { FleetSummary } from '../../shared/contract/fleet.ts';
import { FLEET_SUMMARY_TOPIC, topics } from '../../shared/contract/topics.ts';
import { newId } from '../../shared/ids.ts';
import { nextEvent } from '../helpers/events.ts';
import { RecordingClient } from '../helpers/hub.ts';
import { SimulatedKiosk, telemetryOf } from '../helpers/simulated-kiosk.ts';

/** Warnings the fleet logged, parsed, so tests can check that a rejection names its reason. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const events = new EventEmitter<{ line: [Record<string, unknown>] }>();
  const logger = pino({ level: 'warn' }, {
    write(text: string) {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      events.emit('line', line);
    },
  });
  return { logger, lines, events };
}

describe('fleet service over MQTT', () => {
  let broker: EmbeddedBroker;
  let db: Database;
  let fleet: Fleet;
  let logged: ReturnType<typeof capturingLogger>;
  const kiosks: SimulatedKiosk[] = [];

  beforeEach(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger: pino({ level: 'silent' }) });
    db = await openDatabase();
    logged = capturingLogger();
    fleet = await startFleet({ link: broker.link, db, logger: logged.logger, thresholds: { offlineAfterSeconds: 0 }, summaryDebounceMs: 20 });
  });

  afterEach(async () => {
    await Promise.all(kiosks.splice(0).map((k) => k.client.connected && k.close()));
    await fleet.stop();
    await broker.close();
    await db.close();
  });

  const kiosk = async (deviceId: string, keepaliveSeconds?: number) => {
    const k = await SimulatedKiosk.connect(broker.url, deviceId, { keepaliveSeconds });
    kiosks.push(k);
    return k;
  };
  const becomes = (deviceId: string, accept: (d: FleetDevice) => boolean) =>
    nextEvent<FleetDevice>(fleet, 'change', (d) => d.deviceId === deviceId && accept(d));

  it('marks a device offline with an unexpected-disconnect alert within its keepalive when its connection dies', async () => {
    const online = becomes('k-will', (d) => d.online);
    const k = await kiosk('k-will', 1);
    await online;
    const offline = becomes('k-will', (d) => !d.online);
    const crashedAt = Date.now();
    k.crash();
    const device = await offline;
    expect(Date.now() - crashedAt).toBeLessThan(1500);
    expect(device).toMatchObject({ online: false, disconnectReason: 'unexpected', alerts: [{ kind: 'offline', severity: 'critical' }] });
  });

  it('rejects malformed status, telemetry and command results with a logged reason and no state change', async () => {
    const k = await kiosk('k-bad');
    // Listening first: the fleet may have it before the publish resolves (it sits in the broker's process).
    const applied = nextEvent<FleetDevice>(fleet, 'change', (d) => d.deviceId === 'k-bad' && d.telemetry?.uptimeSeconds === 5);
    await k.telemetry({ uptimeSeconds: 5 });
    await applied;
    const before = fleet.registry.get('k-bad');

    await k.raw(topics.status('k-bad'), '{"v":1,"deviceId":"k-bad","state":"asleep","at":"2026-01-01T00:00:00Z"}');
    await k.raw(topics.telemetry('k-bad'), JSON.stringify({ ...telemetryOf('k-bad'), uptimeSeconds: -1 }));
    await k.raw(topics.telemetry('k-bad'), JSON.stringify(telemetryOf('k-other')));
    await k.raw(topics.commandResult('k-bad'), 'not json');
    // Ordered after the bad ones on the same connection: once this is logged, they have all been handled.
    const last = nextEvent<Record<string, unknown>>(logged.events, 'line', (l) => l.msg === 'command result matches no waiting command');
    await k.raw(topics.commandResult('k-bad'), JSON.stringify({ v: 1, correlationId: newId(), status: 'ok' }));
    await last;

    expect(fleet.registry.get('k-bad')).toEqual(before);
    expect(logged.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('rejected')).map((l) => [l.msg, l.reason])).toEqual([
      ['rejected status message', expect.stringContaining('/state')],
      ['rejected telemetry message', expect.stringContaining('/uptimeSeconds')],
      ['rejected telemetry message', 'deviceId k-other does not match the topic'],
      ['rejected cmd/result message', 'payload is not valid JSON'],
    ]);
  });

  it('publishes a retained fleet summary when the fleet changes', async () => {
    const settled = nextEvent<FleetSummary>(fleet, 'summary', (s) => s.devices === 2);
    await kiosk('k-a');
    await kiosk('k-b');
    await settled;

    const hq = await RecordingClient.connect(broker.url, 'headquarters');
    await hq.client.subscribeAsync(FLEET_SUMMARY_TOPIC);
    const [retained] = await hq.waitFor<FleetSummary>(FLEET_SUMMARY_TOPIC);
    expect(retained).toMatchObject({ devices: 2, online: 2, offline: 0, alerts: {} });
    await hq.close();
  });

  it('raises the sync-conflicts alert when the gateway reports repeated conflicts', async () => {
    const online = becomes('k-sync', (d) => d.online);
    await kiosk('k-sync');
    await online;
    for (let i = 0; i < 3; i++) fleet.recordSyncConflict('k-sync');
    expect(fleet.registry.get('k-sync')?.alerts.map((a) => a.kind)).toEqual(['sync-conflicts']);
  });
});
