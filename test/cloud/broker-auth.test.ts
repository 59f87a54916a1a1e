import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import {
  issueDeviceCredentials,
  mosquittoPasswordFile,
  revokeDeviceCredentials,
  verifyDeviceCredentials,
  type DeviceCredentials,
} from '../../cloud/devices/credentials.ts';
import { startEmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { topics } from '../../shared/contract/topics.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { useDatabases } from './support.ts';

const HUB = { username: 'hub', password: 'hub-secret-for-tests' };
const databases = useDatabases();

interface Credentials {
  a: DeviceCredentials;
  b: DeviceCredentials;
  revoked: DeviceCredentials;
}

/** One broker under test and how it answers what the ACL refuses (MQTT 3.1.1 leaves brokers some room). */
interface BrokerCase {
  name: string;
  start(db: Database, logs: Writable): Promise<{ deviceUrl: string; hubUrl: string; stop(): Promise<void> }>;
  /** Aedes refuses a device whose client id is not its username; Mosquitto replaces the client id with it. */
  borrowedClientId: 'refused' | 'replaced by the username';
  /** Aedes negates the subscription (SUBACK 0x80); Mosquitto grants it and then delivers nothing the ACL forbids. */
  refusedSubscription: 'negated' | 'granted but inert';
  /** Aedes closes the connection; Mosquitto acknowledges and drops the message. */
  refusedPublish: 'disconnects' | 'dropped';
}

const BROKERS: BrokerCase[] = [
  {
    name: 'embedded Aedes with auth',
    async start(db, logs) {
      const broker = await startEmbeddedBroker({
        port: 0,
        logger: pino({ level: 'warn' }, logs),
        auth: { hubUsername: HUB.username, hubPassword: HUB.password, verifyDevice: (id, pw) => verifyDeviceCredentials(db, id, pw) },
      });
      return { deviceUrl: broker.url, hubUrl: broker.url, stop: () => broker.close() };
    },
    borrowedClientId: 'refused',
    refusedSubscription: 'negated',
    refusedPublish: 'disconnects',
  },
  {
    name: 'Mosquitto',
    async start(db) {
      const broker = await startMosquitto({ devices: { passwordFile: await mosquittoPasswordFile(db) }, hub: HUB });
      return { deviceUrl: broker.url, hubUrl: broker.hubUrl, stop: () => broker.stop() };
    },
    borrowedClientId: 'replaced by the username',
    refusedSubscription: 'granted but inert',
    refusedPublish: 'dropped',
  },
];

/** A connected client and every message it has received, with a wait that resolves on arrival (no sleeps). */
class Recorder {
  readonly received: Array<{ topic: string; payload: string }> = [];
  private readonly arrivals = new EventEmitter();
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.received.push({ topic, payload: payload.toString() });
      this.arrivals.emit('message');
    });
  }

  static async connect(url: string, options: IClientOptions): Promise<Recorder> {
    return new Recorder(await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0, connectTimeout: 5000, ...options }));
  }

  async until(topic: string, payload: string): Promise<void> {
    const seen = () => this.received.some((m) => m.topic === topic && m.payload === payload);
    while (!seen()) await once(this.arrivals, 'message');
  }

  /** The SUBACK return codes; mqtt.js rejects a SUBACK with a 0x80 in it, so they are read from the error too. */
  async subscribeCodes(filters: string[]): Promise<number[]> {
    return this.client.subscribeAsync(filters, { qos: 1 }).then(
      (granted) => granted.map((g) => g.qos),
      (error: { packet?: { granted: number[] } }) => {
        if (!error.packet) throw error;
        return error.packet.granted;
      },
    );
  }
}

/** The CONNACK return code a connection attempt was refused with. */
async function refusal(url: string, options: IClientOptions): Promise<number | undefined> {
  const error = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }).then(
    async (client) => {
      await client.endAsync();
      throw new Error('connected');
    },
    (e: Error & { code?: number }) => e,
  );
  return error.code;
}

describe.each(BROKERS)('$name: per-device credentials and ACL', (broker) => {
  let creds: Credentials;
  let urls: { deviceUrl: string; hubUrl: string; stop(): Promise<void> };
  let hub: Recorder;
  let logs = '';
  const open: Recorder[] = [];
  const device = async (credentials: DeviceCredentials, clientId = credentials.username) => {
    const recorder = await Recorder.connect(urls.deviceUrl, { clientId, ...credentials });
    open.push(recorder);
    return recorder;
  };

  beforeAll(async () => {
    const db = await databases.open('pglite');
    creds = {
      a: await issueDeviceCredentials(db, 'kiosk-a'),
      b: await issueDeviceCredentials(db, 'kiosk-b'),
      revoked: await issueDeviceCredentials(db, 'kiosk-gone'),
    };
    await revokeDeviceCredentials(db, 'kiosk-gone');
    const logSink = new Writable({ write: (chunk, _encoding, done) => ((logs += chunk.toString()), done()) });
    urls = await broker.start(db, logSink);
    // The hub's view: everything under the device root, as the gateway's subscriptions would see it.
    hub = await Recorder.connect(urls.hubUrl, { clientId: 'hub-observer', ...HUB });
    await hub.client.subscribeAsync('mk/v1/devices/#', { qos: 1 });
  });

  afterAll(async () => {
    await Promise.all([hub, ...open].map((r) => r?.client.endAsync(true)));
    await urls?.stop();
  });

  it('refuses a wrong password, an unknown device and a revoked device with CONNACK "not authorized"', async () => {
    const { deviceUrl, hubUrl } = urls;
    expect(await refusal(deviceUrl, { clientId: 'kiosk-a', username: 'kiosk-a', password: `${creds.a.password}x` })).toBe(5);
    expect(await refusal(deviceUrl, { clientId: 'kiosk-x', username: 'kiosk-x', password: creds.a.password })).toBe(5);
    expect(await refusal(deviceUrl, { clientId: 'kiosk-gone', ...creds.revoked })).toBe(5);
    expect(await refusal(deviceUrl, { clientId: 'kiosk-a' })).toBe(5);
    expect(await refusal(hubUrl, { clientId: 'hub-x', username: HUB.username, password: 'wrong' })).toBe(5);
  });

  it('lets a device publish its own tx to the hub and receive its own tx/ack', async () => {
    const a = await device(creds.a);
    expect(await a.client.subscribeAsync(topics.txAck('kiosk-a'), { qos: 1 })).toEqual([{ topic: topics.txAck('kiosk-a'), qos: 1 }]);
    await a.client.publishAsync(topics.tx('kiosk-a'), 'tx-1', { qos: 1 });
    await hub.until(topics.tx('kiosk-a'), 'tx-1');
    await hub.client.publishAsync(topics.txAck('kiosk-a'), 'ack-1', { qos: 1 });
    await a.until(topics.txAck('kiosk-a'), 'ack-1');
  });

  it(`does not let device A publish to device B's tx (${broker.refusedPublish})`, async () => {
    const a = await device(creds.a);
    const closed = new Promise((resolve) => a.client.once('close', () => resolve('disconnects')));
    const acked = a.client.publishAsync(topics.tx('kiosk-b'), 'forged', { qos: 1 }).then(() => 'dropped' as const);
    expect(await Promise.race([closed, acked])).toBe(broker.refusedPublish);
    // Ordered after the refused publish: once the hub sees this, it would already have seen the forgery.
    const after = a.client.connected ? a : await device(creds.a);
    await after.client.publishAsync(topics.tx('kiosk-a'), 'after-forgery', { qos: 1 });
    await hub.until(topics.tx('kiosk-a'), 'after-forgery');
    expect(hub.received.filter((m) => m.payload === 'forged')).toEqual([]);
  });

  it(`keeps device A from reading B's topics, the fleet's tx and # (${broker.refusedSubscription})`, async () => {
    const a = await device(creds.a);
    const b = await device(creds.b);
    const foreign = [topics.txAck('kiosk-b'), topics.member('kiosk-b'), 'mk/v1/devices/+/tx', '#', '$SYS/#'];
    const expected = broker.refusedSubscription === 'negated' ? 0x80 : 1;
    expect(await a.subscribeCodes(foreign)).toEqual(foreign.map(() => expected));
    await a.client.subscribeAsync(topics.txAck('kiosk-a'), { qos: 1 });

    await hub.client.publishAsync(topics.txAck('kiosk-b'), 'b-ack', { qos: 1 });
    await hub.client.publishAsync(topics.member('kiosk-b'), 'b-member', { qos: 1 });
    await b.client.publishAsync(topics.tx('kiosk-b'), 'b-tx', { qos: 1 });
    await hub.until(topics.tx('kiosk-b'), 'b-tx');
    // Every foreign message is routed by now; A's own ack after them is the barrier A waits for.
    await hub.client.publishAsync(topics.txAck('kiosk-a'), 'a-barrier', { qos: 1 });
    await a.until(topics.txAck('kiosk-a'), 'a-barrier');
    expect(new Set(a.received.map((m) => m.topic))).toEqual(new Set([topics.txAck('kiosk-a')]));
  });

  it(`handles a device borrowing another device's client id: ${broker.borrowedClientId}`, async () => {
    const b = await device(creds.b);
    let bClosed = false;
    b.client.on('close', () => (bClosed = true));
    if (broker.borrowedClientId === 'refused') {
      expect(await refusal(urls.deviceUrl, { clientId: 'kiosk-b', ...creds.a })).toBe(2);
    } else {
      // Accepted, but as kiosk-a: it neither takes over B's session nor gains B's topics.
      const borrower = await device(creds.a, 'kiosk-b');
      await borrower.client.publishAsync(topics.tx('kiosk-a'), 'from-borrower', { qos: 1 });
      await hub.until(topics.tx('kiosk-a'), 'from-borrower');
    }
    await b.client.subscribeAsync(topics.txAck('kiosk-b'), { qos: 1 });
    await hub.client.publishAsync(topics.txAck('kiosk-b'), 'b-still-here', { qos: 1 });
    await b.until(topics.txAck('kiosk-b'), 'b-still-here');
    expect(bClosed).toBe(false);
  });

  it('never logs a password; the embedded broker logs every refusal with its reason', () => {
    for (const secret of [creds.a.password, creds.b.password, creds.revoked.password, HUB.password]) expect(logs).not.toContain(secret);
    // Mosquitto refuses in its own log, outside the hub's; only the embedded broker's reasons are ours.
    if (!broker.name.startsWith('embedded')) return;
    const lines = logs.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; reason?: string });
    const reasons = lines.map((line) => `${line.msg}: ${line.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'mqtt connect refused: wrong password',
        'mqtt connect refused: unknown device',
        'mqtt connect refused: revoked',
        'mqtt connect refused: no username or password',
        'mqtt connect refused: wrong hub password',
        'mqtt connect refused: client id differs from the device username',
        `mqtt publish refused: topic is not a device → hub channel of the device's own subtree`,
        `mqtt subscribe refused: filter reaches beyond the hub → device channels of the device's own subtree`,
      ]),
    );
  });
});
