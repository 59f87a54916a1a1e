import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AedesOptions, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../../shared/logger.ts';
import { authorizePublish, authorizeSubscribe, type Principal } from './acl.ts';
import type { BrokerLink, BrokerSession, Deliver } from './broker-session.ts';
import { coalesceWritesPerTurn } from '../../shared/coalesced-writes.ts';
import { authenticateConnect, type BrokerAuth } from './device-auth.ts';
import { indexRetainedByTopic, type RetainedPersistence } from './retained-index.ts';

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** The hub's own modules reach this broker in process: no socket, no login, no MQTT encoding between them. */
  link: BrokerLink;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host?: string;
  port?: number;
  logger: Logger;
  /** Per-device credentials and the ACL of acl.ts; without it the broker lets anyone connect and use any topic. */
  auth?: BrokerAuth;
}

/**
 * Aedes handlers enforcing `auth`: CONNECT is decided by device-auth.ts, every PUBLISH and SUBSCRIBE by acl.ts.
 * A refused subscription is negated (SUBACK 0x80) and the client stays connected; a refused publish closes the
 * connection, as Aedes does for any publish error (MQTT 3.1.1 has no way to refuse one). Each refusal is logged
 * with its reason, never with the password.
 */
function authHandlers(auth: BrokerAuth, logger: Logger): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  // Who each authenticated connection is, for the ACL checks that follow; the entry goes with the client.
  const principals = new WeakMap<Client, Principal>();
  const who = (client: Client | null) => ({ clientId: client?.id, principal: client ? principals.get(client) : undefined });
  return {
    authenticate(client, username, password, done) {
      authenticateConnect(auth, { clientId: client.id, username, password }).then(
        (decision) => {
          if (decision.ok) {
            principals.set(client, decision.principal);
            return done(null, true);
          }
          logger.warn({ clientId: client.id, username, reason: decision.reason }, 'mqtt connect refused');
          done(Object.assign(new Error(decision.reason), { returnCode: decision.returnCode }) as AuthenticateError, false);
        },
        (error: Error) => {
          logger.error({ clientId: client.id, username, err: error.message }, 'mqtt authentication failed');
          done(Object.assign(new Error('authentication unavailable'), { returnCode: 3 }) as AuthenticateError, false);
        },
      );
    },
    authorizePublish(client, packet, callback) {
      // client is null only for a Last Will Aedes replays without its connection; no principal, no publish.
      const { clientId, principal } = who(client);
      const decision = principal ? authorizePublish(principal, packet.topic) : { allowed: false as const, reason: 'unauthenticated client' };
      if (decision.allowed) return callback(null);
      logger.warn({ clientId, topic: packet.topic, reason: decision.reason }, 'mqtt publish refused');
      callback(new Error(decision.reason));
    },
    authorizeSubscribe(client, subscription, callback) {
      const { clientId, principal } = who(client);
      const decision = principal ? authorizeSubscribe(principal, subscription.topic) : { allowed: false as const, reason: 'unauthenticated client' };
      if (decision.allowed) return callback(null, subscription);
      logger.warn({ clientId, filter: subscription.topic, reason: decision.reason }, 'mqtt subscribe refused');
      callback(null, null);
    },
  };
}

/**
 * The default MQTT broker: Aedes inside the hub process, so a single `npm start` needs no other server.
 * MQTT 3.1.1 over plain TCP on the given host/port (port 0 picks a free one). For more than one hub
 * instance use an external broker (MQTT_URL) with shared subscriptions — Aedes has none.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker({
    ...(options.auth ? authHandlers(options.auth, options.logger) : {}),
    // No cap on messages being delivered at once. Past Aedes' default of 100, further messages wait in one queue
    // for every topic, which costs O(queue) per message (Array.shift) and puts the acks behind the very
    // transactions the hub is holding back. Without it what is held is bounded by the senders: Aedes reads a
    // connection's next bytes only once its packets are handled, so each kiosk stalls on its own socket.
    concurrency: 0,
  });
  indexRetainedByTopic(persistenceOf(aedes));
  aedes.on('clientError', (client, error) => {
    options.logger.debug({ clientId: client.id, err: error.message }, 'mqtt client error');
  });
  const server: Server = createServer({ noDelay: true }, (socket) => aedes.handle(coalesceWritesPerTurn(socket)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ host, port, auth: options.auth ? 'per-device credentials' : 'off' }, 'embedded MQTT broker listening');
  const url = `mqtt://${host}:${port}`;
  return {
    url,
    port,
    link: { url, connect: async (_name, deliver) => inProcessSession(aedes, deliver) },
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function persistenceOf(aedes: Aedes): RetainedPersistence {
  return (aedes as unknown as { persistence: RetainedPersistence }).persistence;
}

/**
 * A hub module subscribed on the broker itself. A device's QoS 1 publish is PUBACKed once every subscriber has
 * called back, and Aedes reads that device's next packet only then: so `deliver` holding `done` holds the sender,
 * as a TCP subscriber that stops reading would. The hub is trusted, so its publishes skip the ACL, as the hub's
 * login would allow them anyway.
 */
function inProcessSession(aedes: Aedes, deliver: Deliver): BrokerSession {
  const subscriptions: Array<{ filter: string; onPacket: (packet: AedesPublishPacket, done: () => void) => void }> = [];
  // `done` always returns first: mqemitter hands over the next queued message from inside it, so a subscriber that
  // calls back at once would otherwise take a whole queue (Aedes queues past 100 held messages) in one deep stack.
  const deliverPacket = (packet: { topic: string; payload: Buffer | string }, done: () => void) =>
    deliver(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), () => queueMicrotask(done));
  return {
    async subscribe(filters) {
      for (const filter of filters) {
        const onPacket = (packet: AedesPublishPacket, done: () => void) => deliverPacket(packet, done);
        await new Promise<void>((resolve) => aedes.subscribe(filter, onPacket, resolve));
        subscriptions.push({ filter, onPacket });
      }
      // What a SUBSCRIBE over MQTT gets first: the retained messages (e.g. the status of kiosks that connected
      // before the hub's modules started). One published meanwhile may arrive twice, which MQTT allows.
      for await (const packet of persistenceOf(aedes).createRetainedStreamCombi([...filters])) {
        await new Promise<void>((done) => deliverPacket(packet as { topic: string; payload: Buffer }, done));
      }
    },
    publish(topic, payload, options = {}) {
      const packet = { cmd: 'publish' as const, topic, payload: Buffer.from(payload), qos: 1 as const, retain: options.retain ?? false, dup: false };
      return new Promise<void>((resolve, reject) => aedes.publish(packet, (error) => (error ? reject(error) : resolve())));
    },
    // The broker lives and dies with the hub: there is no reconnect.
    onReconnect: () => undefined,
    async close() {
      for (const { filter, onPacket } of subscriptions.splice(0)) {
        await new Promise<void>((resolve) => aedes.unsubscribe(filter, onPacket, resolve));
      }
    },
  };
}
