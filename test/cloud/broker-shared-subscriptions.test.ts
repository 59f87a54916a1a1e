import { EventEmitter, once } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSubscription } from '../../cloud/mqtt/shared-subscriptions.ts';
import { hubSubscriptions, topics } from '../../shared/contract/topics.ts';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';

const HUB = { username: 'hub', password: 'hub-secret-for-tests' };
const DEVICE = { username: 'kiosk-s', password: 'kiosk-s-secret' };
const MESSAGES = 200;
const BARRIER = 'test/barrier';

describe('shared subscriptions on Mosquitto: hub instances split the device traffic', () => {
  let broker: MosquittoBroker;
  let device: MqttClient;
  const hubs: Array<{ client: MqttClient; got: string[] }> = [];
  const arrivals = new EventEmitter();

  beforeAll(async () => {
    broker = await startMosquitto({ devices: [DEVICE], hub: HUB });
    for (const id of ['hub-1', 'hub-2', 'hub-3']) {
      // One hub user for every instance: the hub listener leaves client ids alone, so they do not evict each other.
      const client = await mqtt.connectAsync(broker.hubUrl, { ...HUB, clientId: id, clean: true, reconnectPeriod: 0 });
      const hub = { client, got: [] as string[] };
      client.on('message', (topic, payload) => {
        hub.got.push(topic === BARRIER ? BARRIER : payload.toString());
        arrivals.emit('message');
      });
      await client.subscribeAsync([sharedSubscription(hubSubscriptions.transactions, 'hubs'), BARRIER], { qos: 1 });
      hubs.push(hub);
    }
    device = await mqtt.connectAsync(broker.url, { ...DEVICE, clientId: DEVICE.username, clean: true, reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await Promise.all([device, ...hubs.map((h) => h.client)].map((c) => c?.endAsync(true)));
    await broker?.stop();
  });

  it(`delivers each of ${MESSAGES} device transactions to exactly one hub of the group`, async () => {
    const txs = Array.from({ length: MESSAGES }, (_, i) => `tx-${i}`);
    await Promise.all(txs.map((tx) => device.publishAsync(topics.tx(DEVICE.username), tx, { qos: 1 })));
    const all = () => hubs.flatMap((h) => h.got.filter((m) => m !== BARRIER));
    while (new Set(all()).size < MESSAGES) await once(arrivals, 'message');
    // Each hub gets the barrier after anything the broker had already queued for it, duplicates included.
    await hubs[0]!.client.publishAsync(BARRIER, '', { qos: 1 });
    while (!hubs.every((h) => h.got.includes(BARRIER))) await once(arrivals, 'message');

    expect(all().sort()).toEqual([...txs].sort());
    // The broker spreads the group's messages over its members rather than favouring one.
    for (const hub of hubs) expect(hub.got.filter((m) => m !== BARRIER).length).toBeGreaterThan(0);
  });
});
