import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { FleetRegistry, type FleetDevice } from '../../cloud/fleet/registry.ts';
import { summarize } from '../../cloud/fleet/summary.ts';
import type { DeviceStatus } from '../../shared/contract/payloads.ts';
import { createLogger } from '../../shared/logger.ts';
import { billValidator, printer, telemetryOf } from '../helpers/simulated-kiosk.ts';

const logger = createLogger('test');
const T0 = Date.parse('2026-03-01T09:00:00.000Z');
const opened: Database[] = [];
afterAll(async () => Promise.all(opened.map((db) => db.close())));

/** A registry on a fresh in-memory database with a clock the test moves. */
async function registry(options: { syncConflicts?: (deviceId: string) => number; db?: Database } = {}) {
  const db = options.db ?? (await openDatabase());
  if (!options.db) opened.push(db);
  const clock = { ms: T0 };
  const fleet = new FleetRegistry({
    db,
    logger,
    now: () => new Date(clock.ms),
    thresholds: { inactiveAfterSeconds: 60, offlineAfterSeconds: 120, outboxMaxAgeSeconds: 600, syncConflicts: 2 },
    placements: { 'k-1': { store: '徐汇店 Xuhui', region: '华东 East' } },
    ...(options.syncConflicts ? { syncConflicts: options.syncConflicts } : {}),
  });
  await fleet.load();
  return { fleet, clock, db };
}

const status = (deviceId: string, state: DeviceStatus['state'], atMs: number): DeviceStatus =>
  ({ v: 1, deviceId, state, at: new Date(atMs).toISOString(), softwareVersion: '1.4.2' });
const kinds = (device: FleetDevice | undefined) => device?.alerts.map((a) => a.kind);

describe('fleet registry', () => {
  it('raises alerts from peripheral health: paper low/out, bill jam, stacker nearly full/full, old outbox backlog', async () => {
    const { fleet } = await registry();
    fleet.applyStatus(status('k-1', 'online', T0));
    const since = new Date(T0).toISOString();
    fleet.applyTelemetry(telemetryOf('k-1', {}, [printer('near-end'), billValidator(null, { bills: 450, capacity: 500, removed: false })]));
    expect(kinds(fleet.get('k-1'))).toEqual(['paper-low', 'stacker-nearly-full']);

    fleet.applyTelemetry(
      telemetryOf('k-1', { outbox: { depth: 3, oldestAgeSeconds: 601 } }, [
        printer('out', { code: 'paper-end', message: 'out of paper', since }),
        billValidator({ code: 'jam', message: 'bill jammed in the acceptor', since }, { bills: 500, capacity: 500, removed: false }),
      ]),
    );
    expect(fleet.get('k-1')?.alerts).toEqual([
      { kind: 'paper-out', severity: 'critical', message: 'tcp://10.0.0.5:9100: paper out' },
      { kind: 'bill-jam', severity: 'critical', message: '/dev/ttyUSB0: bill jammed in the acceptor' },
      { kind: 'stacker-full', severity: 'critical', message: '/dev/ttyUSB0: stacker full' },
      { kind: 'outbox-backlog-old', severity: 'warning', message: '3 unsynced, oldest 601 s' },
    ]);
    expect(fleet.get('k-1')).toMatchObject({ store: '徐汇店 Xuhui', region: '华东 East', softwareVersion: '1.4.2' });
  });

  it('raises the inactivity alarm for an online device that fell silent, without any disconnect', async () => {
    const { fleet, clock } = await registry();
    const changes: FleetDevice[] = [];
    fleet.on('change', (device) => changes.push(device));
    fleet.applyStatus(status('k-2', 'online', T0));
    clock.ms = T0 + 59_000;
    fleet.evaluate();
    expect(kinds(fleet.get('k-2'))).toEqual([]);
    clock.ms = T0 + 60_000;
    fleet.evaluate();
    expect(fleet.get('k-2')).toMatchObject({ online: true, alerts: [{ kind: 'inactive', message: `no message since ${new Date(T0).toISOString()}` }] });
    expect(changes.at(-1)?.alerts[0]?.kind).toBe('inactive');

    // Any message is activity: the alarm clears.
    fleet.applyTelemetry(telemetryOf('k-2'));
    expect(kinds(fleet.get('k-2'))).toEqual([]);
  });

  it('tells a Last Will from a clean goodbye, and raises offline only after the offline threshold', async () => {
    const { fleet, clock } = await registry();
    fleet.applyStatus(status('k-3', 'online', T0));
    fleet.applyStatus(status('k-3', 'offline', T0 - 5)); // the will was written before the session began
    expect(fleet.get('k-3')).toMatchObject({ online: false, disconnectReason: 'unexpected', lastDisconnectAt: new Date(T0).toISOString() });
    clock.ms = T0 + 120_000;
    fleet.evaluate();
    expect(kinds(fleet.get('k-3'))).toEqual(['offline']);

    fleet.applyStatus(status('k-3', 'online', clock.ms));
    fleet.applyStatus(status('k-3', 'offline', clock.ms + 1000));
    expect(fleet.get('k-3')).toMatchObject({ online: false, disconnectReason: 'clean' });
  });

  it('raises repeated sync conflicts from the injected count', async () => {
    const counts = new Map<string, number>();
    const { fleet } = await registry({ syncConflicts: (id) => counts.get(id) ?? 0 });
    fleet.applyStatus(status('k-4', 'online', T0));
    counts.set('k-4', 2);
    fleet.evaluate(['k-4']);
    expect(fleet.get('k-4')?.alerts).toEqual([{ kind: 'sync-conflicts', severity: 'warning', message: '2 sync conflicts' }]);
  });

  it('keeps history across a hub restart, and a replayed retained status does not rewrite it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mk-fleet-'));
    try {
      let db = await openDatabase({ dataDir: dir });
      const first = await registry({ db });
      first.fleet.applyStatus(status('k-1', 'online', T0));
      first.fleet.applyTelemetry(telemetryOf('k-1', { softwareVersion: '2.0.0' }));
      first.clock.ms = T0 + 30_000;
      first.fleet.applyStatus(status('k-1', 'offline', T0 - 1));
      await first.fleet.flush();
      const before = first.fleet.get('k-1');
      await db.close();

      db = await openDatabase({ dataDir: dir });
      opened.push(db);
      const second = await registry({ db });
      expect(second.fleet.get('k-1')).toEqual(before);
      expect(before).toMatchObject({ online: false, disconnectReason: 'unexpected', softwareVersion: '2.0.0', lastConnectAt: new Date(T0).toISOString() });
      second.clock.ms = T0 + 90_000;
      second.fleet.applyStatus(status('k-1', 'offline', T0 - 1));
      expect(second.fleet.get('k-1')?.lastDisconnectAt).toBe(before?.lastDisconnectAt);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('summarizes availability, alerts by kind and devices by store and region', async () => {
    const { fleet, clock } = await registry();
    fleet.applyStatus(status('k-1', 'online', T0));
    fleet.applyTelemetry(telemetryOf('k-1', {}, [printer('out')]));
    fleet.applyStatus(status('k-9', 'online', T0));
    fleet.applyStatus(status('k-9', 'offline', T0));
    clock.ms = T0 + 200_000;
    fleet.evaluate();
    expect(summarize(fleet.list(), new Date(clock.ms))).toEqual({
      v: 1,
      at: new Date(clock.ms).toISOString(),
      devices: 2,
      online: 1,
      offline: 1,
      alerts: { 'paper-out': 1, inactive: 1, offline: 1 },
      byStore: { '徐汇店 Xuhui': { online: 1, offline: 0 } },
      byRegion: { '华东 East': { online: 1, offline: 0 } },
    });
  });
});
