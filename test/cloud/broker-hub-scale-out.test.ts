import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { DeviceGateway } from '../../cloud/sync/device-gateway.ts';
import { externalBrokerLink } from '../../cloud/mqtt/broker-session.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceTransaction, MemberSnapshot, TxAck } from '../../shared/contract/payloads.ts';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import { testLedger } from './support.ts';
import { bindCard } from '../../cloud/cards/index.ts';

const HUB = { username: 'hub', password: 'hub-secret-for-tests' };
const DEVICE = { username: 'kiosk-scale', password: 'kiosk-scale-secret' };
const TRANSACTIONS = 200;

/**
 * Two real hub gateways on one Mosquitto share the device load through a `$share` group: every device
 * transaction is applied and acknowledged by exactly one of them — no double posting, no double ack.
 */
describe('two hub instances behind one external broker', () => {
  let broker: MosquittoBroker;
  let db: Database;
  let member: MemberSnapshot;
  let device: MqttClient;
  const gateways: DeviceGateway[] = [];

  beforeAll(async () => {
    broker = await startMosquitto({ devices: [DEVICE], hub: HUB });
    db = await openDatabase({});
    const ledger = await testLedger(db);
    const operator = { type: 'operator' as const, id: 'test' };
    const created = await ledger.createMember({ name: '赵六', actor: operator });
    member = (await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04ABCDEF', actor: operator })).member;
    // Both instances run the hub's real device operations on the one database.
    const operations = (await assembleTestHub(db)).services.deviceOperations;
    for (const clientId of ['hub-a', 'hub-b']) {
      const gateway = new DeviceGateway({
        link: externalBrokerLink({ url: broker.hubUrl, ...HUB, shareGroup: 'hubs' }), db,
        operations, logger: createLogger('test-gateway').child({ clientId }),
      });
      await gateway.start();
      gateways.push(gateway);
    }
    device = await mqtt.connectAsync(broker.url, { ...DEVICE, clientId: DEVICE.username, clean: true, reconnectPeriod: 0 });
    await device.subscribeAsync(topics.txAck(DEVICE.username), { qos: 1 });
  });

  afterAll(async () => {
    await device?.endAsync(true);
    for (const gateway of gateways) await gateway.stop();
    await db?.close();
    await broker?.stop();
  });

  it(`posts and acknowledges each of ${TRANSACTIONS} transactions once, shared between the instances`, async () => {
    const acks: TxAck[] = [];
    const allAcked = new Promise<void>((resolve) =>
      device.on('message', (_topic, payload) => {
        acks.push(JSON.parse(payload.toString()) as TxAck);
        if (acks.length === TRANSACTIONS) resolve();
      }),
    );
    const txs: DeviceTransaction[] = Array.from({ length: TRANSACTIONS }, (_, i) => ({
      v: 1, txId: newId(), deviceId: DEVICE.username, seq: i + 1, createdAt: new Date().toISOString(),
      body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen: 100, currency: 'CNY' },
    }));
    for (const tx of txs) await device.publishAsync(topics.tx(DEVICE.username), JSON.stringify(tx), { qos: 1 });
    await allAcked;

    expect(acks.every((ack) => ack.status === 'ok' && !ack.replay)).toBe(true);
    expect(new Set(acks.map((ack) => ack.txId)).size).toBe(TRANSACTIONS);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_transactions WHERE device_id = $1', [DEVICE.username]);
    expect(rows[0]!.n).toBe(TRANSACTIONS);
    const [a, b] = gateways.map((gateway) => gateway.counters.applied);
    expect(a! + b!).toBe(TRANSACTIONS);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});
