import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import type { BrokerLink } from '../../cloud/mqtt/broker-session.ts';
import { DeviceGateway } from '../../cloud/sync/device-gateway.ts';
import { bindCard } from '../../cloud/cards/index.ts';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, MemberSnapshot, TxAck } from '../../shared/contract/payloads.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { waitFor } from '../helpers/events.ts';
import { testLedger } from './support.ts';

const DEVICES = ['bp-1', 'bp-2', 'bp-3'];
const PER_DEVICE = 150;
/** Far below the burst: the gateway has to hold intake back many times. */
const TUNING = { maxSize: 4, lingerMs: 1, lanes: 2, maxQueued: 8 };

/**
 * What the gateway holds back stays in the broker, in process as over TCP: while the database is busy, the gateway
 * takes its 8 transactions and then defers taking more (messages handed over whose `done` it holds); once the
 * database is free, three devices' 150 transactions each, published at once, are all posted and acknowledged
 * exactly once.
 */
describe('device gateway back-pressure through the embedded broker', () => {
  let broker: EmbeddedBroker;
  let db: Database;
  let gateway: DeviceGateway;
  const devices: MqttClient[] = [];
  let member: MemberSnapshot;
  /** Messages delivered to the gateway whose `done` was not called before the delivery returned. */
  let deferred = 0;

  beforeAll(async () => {
    const logger = createLogger('test-back-pressure');
    broker = await startEmbeddedBroker({ port: 0, logger });
    db = await openDatabase({});
    const ledger = await testLedger(db);
    const operator = { type: 'operator' as const, id: 'test' };
    const created = await ledger.createMember({ name: '钱七', actor: operator });
    member = (await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04BAC4E5', actor: operator })).member;
    const counting: BrokerLink = {
      url: broker.url,
      connect: (name, deliver, sessionLogger) =>
        broker.link.connect(name, (topic, payload, done) => {
          let called = false;
          deliver(topic, payload, () => {
            called = true;
            done();
          });
          if (!called) deferred += 1;
        }, sessionLogger),
    };
    const operations = (await assembleTestHub(db)).services.deviceOperations;
    gateway = new DeviceGateway({ link: counting, db, operations, batch: TUNING, logger });
    await gateway.start();
    for (const deviceId of DEVICES) devices.push(await mqtt.connectAsync(broker.url, { clientId: deviceId, clean: true, reconnectPeriod: 0 }));
  });

  afterAll(async () => {
    for (const device of devices) await device.endAsync(true);
    await gateway?.stop();
    await broker?.close();
    await db?.close();
  });

  it(`holds intake while the database is busy, then posts and acknowledges ${DEVICES.length} × ${PER_DEVICE} transactions, each exactly once`, async () => {
    // PGlite has one connection: a transaction left open keeps every batch waiting.
    let release!: () => void;
    const busy = db.transaction(() => new Promise<void>((resolve) => (release = resolve)));
    const acking = Promise.all(devices.map((device, index) => publishAll(device, DEVICES[index]!, member)));
    await waitFor(() => deferred > 0, { timeoutMs: 30_000, what: 'the gateway to hold intake back' });
    release();
    await busy;
    const acked = await acking;

    for (const acks of acked) {
      expect(acks.every((ack) => ack.status === 'ok' && !ack.replay)).toBe(true);
      expect(new Set(acks.map((ack) => ack.txId)).size).toBe(PER_DEVICE);
    }
    const { rows } = await db.query<{ n: number; total: number }>(
      "SELECT count(*)::int AS n, sum(amount)::int AS total FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.member_id = $1 AND a.kind = 'stored_principal'",
      [member.memberId],
    );
    expect(rows[0]).toEqual({ n: DEVICES.length * PER_DEVICE, total: DEVICES.length * PER_DEVICE * 100 });
    expect(gateway.counters).toMatchObject({ applied: DEVICES.length * PER_DEVICE, replayed: 0, invalid: 0 });
  });
});

/** Publishes a device's transactions without waiting between them; resolves with their acks. */
async function publishAll(device: MqttClient, deviceId: string, member: MemberSnapshot): Promise<TxAck[]> {
  const acks: TxAck[] = [];
  const allAcked = new Promise<void>((resolve) =>
    device.on('message', (_topic, payload) => {
      acks.push(JSON.parse(payload.toString()) as TxAck);
      if (acks.length === PER_DEVICE) resolve();
    }),
  );
  await device.subscribeAsync(topics.txAck(deviceId), { qos: 1 });
  const txs: DeviceTransaction[] = Array.from({ length: PER_DEVICE }, (_, i) => ({
    v: 1, txId: newId(), deviceId, seq: i + 1, createdAt: new Date().toISOString(),
    body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen: 100, currency: 'CNY' },
  }));
  await Promise.all(txs.map((tx) => device.publishAsync(topics.tx(deviceId), JSON.stringify(tx), { qos: 1 })));
  await allAcked;
  return acks;
}
