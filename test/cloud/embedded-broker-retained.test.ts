import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { createLogger } from '../../shared/logger.ts';
import { withDeadline } from '../helpers/events.ts';

/**
 * The embedded broker answers a subscription without wildcards from its index of retained messages by topic
 * (cloud/mqtt/retained-index.ts) and one with wildcards from Aedes' own store: both must deliver the same retained
 * messages, and a cleared retained message to neither.
 */
describe('embedded broker: retained messages for late subscribers', () => {
  let broker: EmbeddedBroker;
  const clients: MqttClient[] = [];

  const connect = async (clientId: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(broker.url, { clientId, clean: true });
    clients.push(client);
    return client;
  };

  /** Subscribes, then publishes a marker to `marker`: whatever arrives before the marker came from the retained store. */
  const retainedFor = async (clientId: string, filter: string, marker: string): Promise<string[]> => {
    const client = await connect(clientId);
    const seen: string[] = [];
    const done = new Promise<void>((resolve) =>
      client.on('message', (topic, payload, packet) => {
        if (!packet.retain && topic === marker) return resolve();
        seen.push(`${topic}=${payload.toString()}${packet.retain ? ' (retained)' : ''}`);
      }),
    );
    await client.subscribeAsync(filter, { qos: 1 });
    await client.publishAsync(marker, 'marker', { qos: 1 });
    await withDeadline(done, 10_000, `the marker on ${marker}`);
    return seen;
  };

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: createLogger('test-retained') });
    const publisher = await connect('publisher');
    await publisher.publishAsync('mk/v1/k1/config', 'one', { qos: 1, retain: true });
    await publisher.publishAsync('mk/v1/k2/config', 'two', { qos: 1, retain: true });
    await publisher.publishAsync('mk/v1/k1/config', 'one again', { qos: 1, retain: true });
    await publisher.publishAsync('mk/v1/k2/config', '', { qos: 1, retain: true });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync()));
    await broker?.close();
  });

  it('an exact topic gets its latest retained message; a cleared one gets nothing', async () => {
    expect(await retainedFor('exact-1', 'mk/v1/k1/config', 'mk/v1/k1/config')).toEqual(['mk/v1/k1/config=one again (retained)']);
    expect(await retainedFor('exact-2', 'mk/v1/k2/config', 'mk/v1/k2/config')).toEqual([]);
  });

  it('a wildcard filter gets the same from the broker’s own store', async () => {
    expect(await retainedFor('wildcard', 'mk/v1/+/config', 'mk/v1/marker/config')).toEqual(['mk/v1/k1/config=one again (retained)']);
  });
});
