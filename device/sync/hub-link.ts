import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { newId } from '../../shared/ids.ts';
import { tuneMqttSocket } from '../../shared/mqtt-socket.ts';
import { TransactionSender } from './transaction-sender.ts';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import {
  CardLookupResponse,
  MemberUpdate,
  SyncRequest,
  TxAck,
  TxAcks,
  type CardLookupRequest,
  type DeviceStatus,
  type MemberSnapshot,
} from '../../shared/contract/payloads.ts';
import type { KioskStore, OutboxEntry } from '../store/kiosk-store.ts';
import type { ResendPolicy, SendState } from './resend-schedule.ts';
import { OutboxStream } from './resend-stream.ts';

export interface HubLinkOptions {
  url: string;
  deviceId: string;
  softwareVersion: string;
  store: KioskStore;
  logger: Logger;
  username?: string;
  password?: string;
  /** How long a member waits for the hub before the kiosk falls back to its cache. */
  requestTimeoutMs?: number;
  /** How many transactions await their ack at once and when one is published again (DEFAULT_RESEND_POLICY). */
  resend?: Partial<ResendPolicy>;
  /** The back-off jitter's random source (Math.random); tests fix it. */
  random?: () => number;
}

export class HubUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubUnavailableError';
  }
}

/** What a lookup goes by: the UID of a tapped NFC card, or the number a magnetic-stripe swipe gives. */
export type CardLookupKey = { cardUid: string } | { cardNumber: string };

export type CardLookupResult = { found: true; member: MemberSnapshot } | { found: false; code: string; message: string };

/** One publish of an outbox entry: `send` is its send state after it (none for a settled entry the hub asked for again). */
export interface PublishedTx {
  txId: string;
  seq: number;
  send?: SendState;
}

interface HubLinkEvents {
  settled: [OutboxEntry];
  published: [PublishedTx];
  member: [MemberSnapshot];
  connected: [];
  disconnected: [];
}

interface PendingRequest {
  resolve(result: CardLookupResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The kiosk's MQTT link to the hub: streams the outbox at QoS 1, applies acks (durably, through the store),
 * keeps the member cache fresh and answers card lookups. The outbox on disk is the source of truth: on every
 * (re)connect the stream starts again from the oldest pending transaction, at most a window of them await
 * their acks at once, and one is published again only once its ack is overdue, with back-off (OutboxStream,
 * ResendSchedule); the hub applies each exactly once. When the hub sees a hole in this device's sequence
 * numbers it asks (on `sync`) for that range, which is published again in sequence order.
 */
export class HubLink extends EventEmitter<HubLinkEvents> {
  private client: MqttClient | undefined;
  private readonly requests = new Map<string, PendingRequest>();
  private readonly handlers = new Map<string, (payload: Buffer) => void | Promise<void>>();
  private readonly stream: OutboxStream<OutboxEntry>;
  private readonly sender: TransactionSender;

  constructor(private readonly options: HubLinkOptions) {
    super();
    this.sender = new TransactionSender(options.deviceId, (topic, payload) => this.client?.publish(topic, payload, { qos: 1 }));
    this.stream = new OutboxStream<OutboxEntry>({
      // The stream reads the outbox whenever an ack opens room, so it may find an entry before the kiosk flow
      // hands it over (publish): safe, because the store shows a change only once it is on disk.
      pending: () => options.store.pending(),
      publish: (entry, send) => this.publishTx(entry, send),
      ...(options.resend ? { policy: options.resend } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const { url, deviceId, username, password } = this.options;
    const client = mqtt.connect(url, {
      clientId: deviceId,
      username,
      password,
      // What a clean session means for transactions in flight, and why not a persistent one: OutboxStream.connected.
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: { topic: topics.status(deviceId), payload: Buffer.from(this.statusPayload('offline')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      tuneMqttSocket(client);
      void this.onConnect();
    });
    client.on('close', () => {
      this.stream.disconnected();
      this.emit('disconnected');
    });
    client.on('error', (error) => this.options.logger.warn({ err: error.message }, 'hub link error'));
    client.on('message', (topic, payload) => {
      // A message that cannot be handled (a store write failing, say) is logged; the link stays up.
      this.onMessage(topic, payload).catch((error: Error) => this.options.logger.error({ topic, err: error.message }, 'device message handling failed'));
    });
  }

  async stop(): Promise<void> {
    this.stream.disconnected();
    for (const [id, request] of this.requests) {
      clearTimeout(request.timer);
      request.reject(new HubUnavailableError('kiosk is shutting down'));
      this.requests.delete(id);
    }
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await client.publishAsync(topics.status(this.options.deviceId), this.statusPayload('offline'), { qos: 1, retain: true });
    }
    await client.endAsync();
  }

  /**
   * A new entry is durable in the outbox: it goes out in sequence order, at once if the window has room,
   * otherwise as acks open room, or on the next connect. The stream takes it from the store, which already
   * holds it; the parameter is the kiosk flow's HubPort contract.
   */
  publish(_entry: OutboxEntry): void {
    this.stream.wake();
  }

  async lookupCard(key: CardLookupKey): Promise<CardLookupResult> {
    const client = this.client;
    if (!client?.connected) throw new HubUnavailableError('not connected to the hub');
    const correlationId = newId();
    const timeoutMs = this.options.requestTimeoutMs ?? 3000;
    return new Promise<CardLookupResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(correlationId);
        reject(new HubUnavailableError(`hub did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(correlationId, { resolve, reject, timer });
      // Copy only the one key: the hub refuses a request with both or with anything extra.
      const request: CardLookupRequest =
        'cardUid' in key ? { v: 1, correlationId, cardUid: key.cardUid } : { v: 1, correlationId, cardNumber: key.cardNumber };
      client.publish(topics.request(this.options.deviceId, 'card.lookup'), encodePayload(request), { qos: 1 });
    });
  }

  /**
   * Lets a kiosk feature (telemetry, commands, configuration…) receive one of this device's topics: it is
   * subscribed on every (re)connect and its messages are handed to `handler` as they arrive.
   */
  handle(topic: string, handler: (payload: Buffer) => void | Promise<void>): void {
    this.handlers.set(topic, handler);
    if (this.client?.connected) void this.client.subscribeAsync(topic, { qos: 1 });
  }

  /** Publishes on this device's behalf when connected; false when offline (the caller decides what to keep). */
  publishMessage(topic: string, payload: string, options: { qos?: 0 | 1; retain?: boolean } = {}): boolean {
    if (!this.client?.connected) return false;
    this.client.publish(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
    return true;
  }

  private async onConnect(): Promise<void> {
    const { deviceId, logger } = this.options;
    const client = this.client!;
    this.sender.connected();
    try {
      await client.subscribeAsync(
        [
          topics.txAck(deviceId),
          topics.txAcks(deviceId),
          topics.response(deviceId, 'card.lookup'),
          topics.member(deviceId),
          topics.sync(deviceId),
          ...this.handlers.keys(),
        ],
        { qos: 1 },
      );
      await client.publishAsync(topics.status(deviceId), this.statusPayload('online'), { qos: 1, retain: true });
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'could not subscribe after connecting; will retry on reconnect');
      return;
    }
    logger.info({ pending: this.options.store.pending().length }, 'connected to hub');
    this.stream.connected();
    this.emit('connected');
  }

  private publishTx(entry: OutboxEntry, send?: SendState): void {
    const { txId, seq } = entry.tx;
    if (send && send.attempts > 1) this.options.logger.warn({ txId, seq, attempt: send.attempts }, 'hub has not acknowledged a transaction in time; publishing it again');
    // An entry the hub asked for again (no send state) or whose ack is overdue goes alone on tx.
    this.sender.send(entry.tx, !send || send.attempts > 1);
    this.emit('published', { txId, seq, ...(send ? { send } : {}) });
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const { deviceId, logger } = this.options;
    if (topic === topics.txAck(deviceId)) return this.onAck(payload);
    if (topic === topics.txAcks(deviceId)) return this.onAcks(payload);
    if (topic === topics.response(deviceId, 'card.lookup')) return this.onLookupResponse(payload);
    if (topic === topics.sync(deviceId)) return this.onSyncRequest(payload);
    if (topic === topics.member(deviceId)) {
      const update = decodePayload(MemberUpdate, payload);
      if (!update.ok) return void logger.warn({ topic, reason: update.reason }, 'rejected member update');
      // An update older than what the cache holds (pushes and acks can cross) is dropped, not shown.
      if (await this.options.store.cacheMember(update.value.member)) this.emit('member', update.value.member);
      return;
    }
    await this.handlers.get(topic)?.(payload);
  }

  private async onAck(payload: Buffer): Promise<void> {
    const ack = decodePayload(TxAck, payload);
    if (!ack.ok) return void this.options.logger.warn({ reason: ack.reason }, 'rejected transaction ack');
    await this.settle(ack.value);
  }

  /** Several acks of one hub commit (tx/acks): each settled as if it had come alone, in order. */
  private async onAcks(payload: Buffer): Promise<void> {
    const message = decodePayload(TxAcks, payload);
    if (!message.ok) return void this.options.logger.warn({ reason: message.reason }, 'rejected transaction acks');
    this.sender.hubAnsweredTogether();
    for (const ack of message.value.acks) await this.settle(ack);
  }

  private async settle(ack: TxAck): Promise<void> {
    // Leaves the window only once the store has settled it: until then it is pending and must not be streamed again.
    const entry = await this.options.store.applyAck(ack);
    this.stream.acked(ack.txId);
    if (!entry) return;
    if (entry.state === 'rejected') {
      this.options.logger.error({ txId: entry.tx.txId, seq: entry.tx.seq, error: entry.error }, 'hub rejected transaction');
    }
    this.emit('settled', entry);
    if (ack.status === 'ok') this.emit('member', ack.member);
  }

  private onSyncRequest(payload: Buffer): void {
    const { logger, store } = this.options;
    const request = decodePayload(SyncRequest, payload);
    if (!request.ok) return void logger.warn({ reason: request.reason }, 'rejected sync request');
    const { fromSeq, toSeq } = request.value;
    const entries = store.resendable(fromSeq, toSeq);
    const unavailable = toSeq - fromSeq + 1 - entries.length;
    // Rejected entries are final and the hub settled them, so a shortfall means a restored or replaced data
    // file (or entries trimmed long ago): the hub cannot get those numbers from this kiosk.
    if (unavailable > 0) logger.error({ fromSeq, toSeq, unavailable }, 'hub asked for sequence numbers this kiosk cannot resend');
    const resent = this.stream.resend(entries, (entry) => entry.state === 'pending');
    logger.warn({ fromSeq, toSeq, resent: resent.length }, 'hub saw a sequence gap; resending');
  }

  private async onLookupResponse(payload: Buffer): Promise<void> {
    const response = decodePayload(CardLookupResponse, payload);
    if (!response.ok) return void this.options.logger.warn({ reason: response.reason }, 'rejected card lookup response');
    const request = this.requests.get(response.value.correlationId);
    if (!request) return;
    this.requests.delete(response.value.correlationId);
    clearTimeout(request.timer);
    const value = response.value;
    if (value.status === 'ok') {
      // Cached before the member is shown: the kiosk can serve them offline from the very next tap. A cache
      // that cannot be written must not keep the member waiting, though.
      await this.options.store.cacheMember(value.data).catch((error: Error) =>
        this.options.logger.error({ err: error.message }, 'member snapshot not cached'),
      );
      request.resolve({ found: true, member: value.data });
    } else {
      this.options.logger.info({ code: value.error.code }, 'card lookup refused by hub');
      request.resolve({ found: false, code: value.error.code, message: value.error.message });
    }
  }

  private statusPayload(state: DeviceStatus['state']): string {
    const status: DeviceStatus = {
      v: 1,
      deviceId: this.options.deviceId,
      state,
      at: new Date().toISOString(),
      softwareVersion: this.options.softwareVersion,
      batchedAcks: true,
    };
    return encodePayload(status);
  }
}

