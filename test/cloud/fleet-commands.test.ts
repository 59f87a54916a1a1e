import { externalBrokerLink } from '../../cloud/mqtt/broker-session.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { CommandTimeoutError } from '../../cloud/fleet/commands.ts';
import { startFleet, type Fleet } from '../../cloud/fleet/fleet-service.ts';
import type { FleetDevice } from '../../cloud/fleet/registry.ts';
import type { AssembledHub } from '../../cloud/hub.ts';
import { createOperator } from '../../cloud/org/operators.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { startCommandHandler } from '../../device/sync/commands.ts';
import { HubLink } from '../../device/sync/hub-link.ts';
import { createLogger } from '../../shared/logger.ts';
import { nextEvent } from '../helpers/events.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { bearer } from '../helpers/org.ts';

const logger = createLogger('test');
const DEVICE = 'kiosk-cmd-e2e';

/**
 * Hub side (broker, fleet, REST routes) against a real kiosk HubLink running the kiosk's command handler.
 * A second fleet with its clock two minutes behind issues commands that are already expired on arrival.
 */
describe('fleet commands, hub to kiosk and back', () => {
  let broker: EmbeddedBroker;
  let db: Database;
  let fleet: Fleet;
  let laggingFleet: Fleet;
  let hub: AssembledHub;
  let app: FastifyInstance;
  let dir: string;
  let link: HubLink;
  const reprints: string[] = [];
  let headers: { authorization: string };

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger });
    db = await openDatabase();
    hub = await assembleTestHub(db, { logger, mqtt: broker.link });
    await hub.start();
    fleet = hub.fleet.fleet!;
    app = hub.app;
    laggingFleet = await startFleet({ link: externalBrokerLink({ url: broker.url }), db, logger, now: () => new Date(Date.now() - 120_000) });
    const technician = { name: 'Technician', role: 'technician', scope: { level: 'hq', id: 'hq' } } as const;
    headers = bearer((await createOperator(db, technician, { type: 'system', id: 'test' }, 'fleet test')).token);
    dir = await mkdtemp(join(tmpdir(), 'mk-cmd-'));
    const store = await KioskStore.open(join(dir, 'kiosk.json'));
    link = new HubLink({ url: broker.url, deviceId: DEVICE, softwareVersion: '1.0.0', store, logger });
    startCommandHandler({
      hub: link,
      deviceId: DEVICE,
      logger,
      handlers: {
        'reprint-last-receipt': () => void reprints.push('reprint'),
        'run-self-test': () => ({ overall: 'ok', summary: 'ok: 0 peripherals ready' }),
      },
    });
    const known = nextEvent<FleetDevice>(fleet, 'change', (d) => d.deviceId === DEVICE && d.online);
    link.start();
    await known;
  });

  afterAll(async () => {
    await link.stop();
    await laggingFleet.stop();
    await hub.stop();
    await broker.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a command and resolves with the kiosk ok envelope', async () => {
    const result = await fleet.sendCommand(DEVICE, { name: 'run-self-test', ttlSeconds: 5 });
    expect(result).toMatchObject({ status: 'ok', data: { overall: 'ok' } });
  });

  it('returns the result over REST, 409 for a command the kiosk does not run, 400 for an invalid body, 404 for an unknown device', async () => {
    const url = `/api/v1/devices/${DEVICE}/commands`;
    const ok = await app.inject({ method: 'POST', url, payload: { name: 'reprint-last-receipt', ttlSeconds: 5 }, headers });
    expect(ok.statusCode).toBe(200);
    expect(reprints).toEqual(['reprint']);

    const unknown = await app.inject({ method: 'POST', url, payload: { name: 'restart-app', ttlSeconds: 5 }, headers });
    expect(unknown.statusCode).toBe(409);
    expect(unknown.json()).toEqual({
      error: { code: 'UNKNOWN_COMMAND', message: '该终端不支持此命令 / The kiosk does not run this command: this kiosk does not run "restart-app"' },
    });

    const invalid = await app.inject({ method: 'POST', url, payload: { name: 'format-disk', ttlSeconds: 5 }, headers });
    expect(invalid.statusCode).toBe(400);

    const nobody = await app.inject({ method: 'POST', url: '/api/v1/devices/nobody/commands', payload: { name: 'run-self-test', ttlSeconds: 5 }, headers });
    expect(nobody.statusCode).toBe(404);
    expect(nobody.json().error).toEqual({ code: 'DEVICE_NOT_FOUND', message: '终端 nobody 从未向本中心报到 / No device nobody has ever reported to this hub' });
  });

  it('lets only admins and technicians send commands: no token is 401, a cashier 403, and the kiosk runs nothing', async () => {
    const before = reprints.length;
    const url = `/api/v1/devices/${DEVICE}/commands`;
    const payload = { name: 'reprint-last-receipt', ttlSeconds: 5 };
    const cashier = { name: 'Cashier', role: 'cashier', scope: { level: 'hq', id: 'hq' } } as const;
    const cashierToken = (await createOperator(db, cashier, { type: 'system', id: 'test' }, 'fleet test')).token;
    expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(401);
    const refused = await app.inject({ method: 'POST', url, payload, headers: bearer(cashierToken) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('FORBIDDEN');
    expect((await app.inject({ method: 'GET', url: '/api/v1/fleet', headers: bearer(cashierToken) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/v1/fleet', headers })).statusCode).toBe(200);
    expect(reprints).toHaveLength(before);
  });

  it('a command past its expiry on arrival is answered expired and never runs', async () => {
    const before = reprints.length;
    const result = await laggingFleet.sendCommand(DEVICE, { name: 'reprint-last-receipt', ttlSeconds: 60 });
    expect(result).toMatchObject({ status: 'error', error: { code: 'EXPIRED' } });
    expect(reprints).toHaveLength(before);
  });

  it('a command to an offline kiosk times out at its TTL (504 over REST) and the kiosk never runs it', async () => {
    const offline = nextEvent<FleetDevice>(fleet, 'change', (d) => d.deviceId === DEVICE && !d.online);
    await link.stop();
    await offline;
    await expect(fleet.sendCommand(DEVICE, { name: 'reprint-last-receipt', ttlSeconds: 1 })).rejects.toBeInstanceOf(CommandTimeoutError);
    const response = await app.inject({
      method: 'POST',
      url: `/api/v1/devices/${DEVICE}/commands`,
      payload: { name: 'reprint-last-receipt', ttlSeconds: 1 },
      headers,
    });
    expect(response.statusCode).toBe(504);
    expect(response.json().error).toMatchObject({ code: 'DEVICE_TIMEOUT' });
    expect(response.json().error.message).toMatch(` / ${DEVICE} did not answer "reprint-last-receipt" within its 1 s time-to-live; it will not run it later`);
    expect(reprints).toEqual(['reprint']);
  });
});

describe('a hub without a device link', () => {
  it('answers the fleet routes with 503 FLEET_NOT_RUNNING, in both languages', async () => {
    const db = await openDatabase();
    const hub = await assembleTestHub(db, { logger });
    try {
      const technician = { name: 'Technician', role: 'technician', scope: { level: 'hq', id: 'hq' } } as const;
      const headers = bearer((await createOperator(db, technician, { type: 'system', id: 'test' }, 'fleet test')).token);
      const notRunning = { code: 'FLEET_NOT_RUNNING', message: '本中心未连接设备通道，没有设备可显示 / This hub runs without a device link: there is no fleet to show' };
      for (const request of [
        { method: 'GET', url: '/api/v1/fleet' },
        { method: 'GET', url: '/api/v1/fleet/stream' },
        { method: 'POST', url: `/api/v1/devices/${DEVICE}/commands`, payload: { name: 'run-self-test', ttlSeconds: 5 } },
      ] as const) {
        const reply = await hub.app.inject({ ...request, headers });
        expect([request.url, reply.statusCode, reply.json()]).toEqual([request.url, 503, { error: notRunning }]);
      }
    } finally {
      await hub.app.close();
      await db.close();
    }
  });
});
