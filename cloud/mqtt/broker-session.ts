import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { Logger } from '../../shared/logger.ts';
import { tuneMqttSocket } from '../../shared/mqtt-socket.ts';

/**
 * Hands one inbound message to the module that subscribed. `done` says it can take the next one: until then the
 * broker holds what follows (back-pressure), so a module that cannot keep up slows its senders instead of
 * queueing without bound.
 */
export type Deliver = (topic: string, payload: Buffer, done: () => void) => void;

/** One hub module's connection to the broker: QoS 1 both ways. */
export interface BrokerSession {
  /** Subscribes to the filters (none overlapping), again after every reconnect; retained messages are delivered too. */
  subscribe(filters: readonly string[]): Promise<void>;
  /** Resolves once the broker has the message. */
  publish(topic: string, payload: string, options?: { retain?: boolean }): Promise<void>;
  /** Called after every reconnect, once the subscriptions are back (an external broker may have lost what it held). */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}

/** Where the device link's broker is and how the hub's modules connect to it. */
export interface BrokerLink {
  /** Where devices connect, for logs and tools. */
  readonly url: string;
  /** With an external broker: several hubs share the device traffic through $share/<group>/…. */
  readonly shareGroup?: string;
  /** Opens a session for one module; `name` tells its connections apart in the broker's logs. */
  connect(name: string, deliver: Deliver, logger: Logger): Promise<BrokerSession>;
}

export interface ExternalBrokerOptions {
  url: string;
  username?: string;
  password?: string;
  shareGroup?: string;
}

/** An external broker (Mosquitto, EMQX): each module gets its own MQTT client, logged in as the hub. */
export function externalBrokerLink({ url, username, password, shareGroup }: ExternalBrokerOptions): BrokerLink {
  return {
    url,
    ...(shareGroup ? { shareGroup } : {}),
    async connect(name, deliver, logger) {
      const client = await mqtt.connectAsync(url, {
        // Unique even for two sessions opened in the same process and millisecond: a broker drops the older of two alike.
        clientId: `hub-${name}-${process.pid}-${randomUUID().slice(0, 8)}`,
        username,
        password,
        clean: true,
        reconnectPeriod: 1000,
      });
      tuneMqttSocket(client);
      // mqtt.js reads the next packet only once this calls back, and PUBACKs the message only then.
      client.handleMessage = (packet, callback) => deliver(packet.topic, packet.payload as Buffer, () => callback());
      client.on('error', (error) => logger.warn({ err: error.message }, 'mqtt error'));
      const filters: string[] = [];
      const reconnectListeners: Array<() => void> = [];
      // With a clean session the broker forgets the subscriptions on a reconnect.
      client.on('connect', () => {
        tuneMqttSocket(client);
        const resubscribed = filters.length > 0 ? client.subscribeAsync(filters, { qos: 1 }) : Promise.resolve();
        resubscribed.then(
          () => reconnectListeners.forEach((listener) => listener()),
          (error: Error) => logger.error({ err: error.message }, 'could not subscribe again after a reconnect'),
        );
      });
      return {
        async subscribe(more) {
          filters.push(...more);
          await client.subscribeAsync([...more], { qos: 1 });
        },
        async publish(topic, payload, options = {}) {
          await client.publishAsync(topic, payload, { qos: 1, retain: options.retain ?? false });
        },
        onReconnect: (listener) => void reconnectListeners.push(listener),
        close: () => client.endAsync(),
      };
    },
  };
}
