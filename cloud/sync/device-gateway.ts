import mqtt, { type MqttClient } from 'mqtt';
import { noDelay } from '../../shared/mqtt-no-delay.ts';
import { sharedSubscription } from '../mqtt/shared-subscriptions.ts';
import type { Logger } from '../../shared/logger.ts';
import { hubSubscriptions, parseDeviceTopic, topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { CardLookupRequest, ConfigReported, DeviceStatus, DeviceTransaction, type SyncRequest, type TxAck } from '../../shared/contract/payloads.ts';
import type { RequestOp } from '../../shared/contract/topics.ts';
import { bilingual, refusalOf } from '../kernel/errors.ts';
import type { DeviceOperationsRegistry } from '../kernel/module.ts';
import type { DeviceSync } from './device-sync.ts';

/** The request payload schema of each request op (the contract in shared/contract). */
const REQUEST_SCHEMAS = { 'card.lookup': CardLookupRequest } as const satisfies Record<RequestOp, unknown>;

export interface DeviceGatewayOptions {
  url: string;
  /** The modules' device operations: the transactions and requests they handle (kernel/module.ts). */
  operations: DeviceOperationsRegistry;
  logger: Logger;
  /**
   * Sequence tracking with gap detection and conflicts, member update fan-out and configuration shadows
   * (cloud/sync). Without it transactions are still applied exactly once by txId, nothing more.
   */
  sync?: DeviceSync;
  /** Told of every sequence conflict, e.g. so the fleet view can raise an alert for the device. */
  onSequenceConflict?(deviceId: string): void;
  clientId?: string;
  username?: string;
  password?: string;
  /**
   * Several hub instances on one external broker share the device load: with a group, transactions and
   * requests are subscribed as `$share/<group>/…`, so each reaches exactly one instance. Aedes has no
   * shared subscriptions, so this is for Mosquitto/EMQX only.
   */
  shareGroup?: string;
}

export interface GatewayCounters {
  applied: number;
  replayed: number;
  refused: number;
  invalid: number;
  /** Transactions refused because another transaction already holds their device sequence number. */
  conflicts: number;
  /** Posted transactions that staff must look at, by kind (e.g. 'pricing-mismatch': the hub priced a top-up differently). */
  anomalies: Record<string, number>;
}

/**
 * The hub's side of the device link. Hands each device transaction to the module that handles its kind, which
 * applies it exactly once (the device's txId is the idempotency key); acknowledges each only after the database
 * commit. Hands each request to the module that answers its op. Every inbound payload is validated; an invalid
 * one is logged with its reason and changes nothing.
 */
export class DeviceGateway {
  readonly counters: GatewayCounters = { applied: 0, replayed: 0, refused: 0, invalid: 0, conflicts: 0, anomalies: {} };
  private client: MqttClient | undefined;
  /** Messages being applied: stop() lets them finish, so no ack is lost to a closing client. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: DeviceGatewayOptions) {}

  async start(): Promise<void> {
    const { url, clientId, username, password } = this.options;
    const client = await mqtt.connectAsync(url, {
      clientId: clientId ?? `hub-${process.pid}-${Date.now().toString(36)}`,
      username,
      password,
      clean: true,
      reconnectPeriod: 1000,
    });
    this.client = client;
    client.on('message', (topic, payload) => this.track(this.onMessage(topic, payload)));
    client.on('error', (error) => this.options.logger.warn({ err: error.message }, 'gateway mqtt error'));
    // Re-subscribe on every reconnect: with a clean session the broker forgets our subscriptions.
    client.on('connect', () => {
      noDelay(client);
      this.onConnect().catch((error: Error) => this.options.logger.error({ err: error.message }, 'gateway could not resubscribe or republish'));
    });
    const { sync } = this.options;
    if (sync) {
      const publish = async (topic: string, message: string, opts: { retain?: boolean } = {}) => {
        await client.publishAsync(topic, message, { qos: 1, retain: opts.retain ?? false });
      };
      sync.members.start(publish);
      sync.config.start(publish);
    }
    noDelay(client);
    await this.onConnect();
  }

  async stop(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.options.sync?.members.stop();
    this.options.sync?.config.stop();
    await this.client?.endAsync();
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: Error) => this.options.logger.error({ err: error.message }, 'device message handling failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async onConnect(): Promise<void> {
    const { sync, shareGroup } = this.options;
    const shared = (filter: string) => (shareGroup ? sharedSubscription(filter, shareGroup) : filter);
    await this.client!.subscribeAsync(
      [
        shared(hubSubscriptions.transactions),
        shared(hubSubscriptions.requests),
        hubSubscriptions.status,
        ...(sync ? [hubSubscriptions.configReported] : []),
      ],
      { qos: 1 },
    );
    await sync?.config.republish();
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseDeviceTopic(topic);
    if (!parsed) return this.reject(topic, 'topic is outside the device contract');
    if (parsed.channel === 'tx') return this.onTransaction(parsed.deviceId, topic, payload);
    if (parsed.channel === 'req' && parsed.op) return this.onRequest(parsed.deviceId, parsed.op, topic, payload);
    if (parsed.channel === 'config/reported') return this.onConfigReported(parsed.deviceId, topic, payload);
    if (parsed.channel === 'status') {
      const status = decodePayload(DeviceStatus, payload);
      if (!status.ok) return this.reject(topic, status.reason);
      this.options.logger.info({ deviceId: parsed.deviceId, state: status.value.state }, 'device status');
      // A kiosk nobody has configured yet gets the default configuration, and with it the program rules.
      await this.options.sync?.config.onStatus(parsed.deviceId, status.value);
    }
  }

  private async onTransaction(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const decoded = decodePayload(DeviceTransaction, payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    const tx = decoded.value;
    if (tx.deviceId !== deviceId) return this.reject(topic, `payload device id ${tx.deviceId} does not match the topic`);
    const handler = this.options.operations.transaction(tx.body.kind);
    if (!handler) return this.reject(topic, `no module handles device transactions of kind ${tx.body.kind}`);
    const log = this.options.logger.child({ deviceId, txId: tx.txId, seq: tx.seq });
    const { sync } = this.options;
    let ack: TxAck;
    try {
      const claim = await sync?.sequences.claim(deviceId, tx.seq, tx.txId);
      if (claim && !claim.ok) return await this.refuseSequenceConflict(tx.txId, tx.seq, deviceId, claim.claimedBy);
      const result = await handler.apply(tx, { deviceId, logger: log });
      if (result.anomaly) {
        const { kind, detail } = result.anomaly;
        this.counters.anomalies[kind] = (this.counters.anomalies[kind] ?? 0) + 1;
        log.warn({ anomaly: kind, ...detail }, 'device transaction posted with an anomaly for staff to look at');
      }
      ack = { v: 1, txId: tx.txId, seq: tx.seq, status: 'ok', replay: result.replay, member: result.member };
      await this.settle(deviceId, tx.seq);
      this.counters[result.replay ? 'replayed' : 'applied'] += 1;
      log.info({ replay: result.replay, ...result.logged }, 'device transaction applied');
      // Not awaited (nor below): tracking never delays an answer, and a late row only means one more update.
      void sync?.members.seen(deviceId, result.member);
      if (!result.replay) sync?.members.poke();
    } catch (error) {
      const refusal = refusalOf(error);
      if (!refusal) {
        // Not acknowledged: the device keeps it in its outbox and sends it again.
        log.error({ err: (error as Error).message }, 'device transaction failed; not acknowledged');
        return;
      }
      ack = { v: 1, txId: tx.txId, seq: tx.seq, status: 'error', error: refusal };
      try {
        await this.settle(deviceId, tx.seq);
      } catch (settleError) {
        log.error({ err: (settleError as Error).message }, 'could not record the refused sequence; not acknowledged');
        return;
      }
      this.counters.refused += 1;
      log.warn({ code: refusal.code }, 'device transaction refused');
    }
    await this.client!.publishAsync(topics.txAck(deviceId), encodePayload(ack), { qos: 1 });
  }

  /**
   * Records the final answer for `seq` before it is acknowledged, so a device never holds an ack for a
   * sequence number the hub would still ask for. Asks the device to resend a hole below it when this
   * transaction is the first one past the hole, or filled the one before it: later arrivals past the same
   * hole would only repeat the request.
   */
  private async settle(deviceId: string, seq: number): Promise<void> {
    const settled = await this.options.sync?.sequences.settle(deviceId, seq);
    const gap = settled?.gap;
    if (!gap || (seq !== gap.toSeq + 1 && seq > settled.contiguous)) return;
    this.options.logger.warn({ deviceId, seq, ...gap }, 'device sequence gap; asking the device to resend');
    const request: SyncRequest = { v: 1, ...gap };
    await this.client!.publishAsync(topics.sync(deviceId), encodePayload(request), { qos: 1 });
  }

  /** Two transactions with one device sequence number: the device's numbering is broken, so neither is guessed at. */
  private async refuseSequenceConflict(txId: string, seq: number, deviceId: string, claimedBy: string): Promise<void> {
    this.counters.conflicts += 1;
    this.options.onSequenceConflict?.(deviceId);
    this.options.logger.error({ deviceId, txId, seq, claimedBy }, 'device sequence conflict: seq already used by another transaction; nothing posted');
    const ack: TxAck = {
      v: 1,
      txId,
      seq,
      status: 'error',
      error: {
        code: 'SEQUENCE_CONFLICT',
        message: bilingual({ zh: `本机的序号 ${seq} 已属于另一笔交易，本笔未入账`, en: `Sequence ${seq} of this device already belongs to another transaction; nothing was posted` }),
      },
    };
    await this.client!.publishAsync(topics.txAck(deviceId), encodePayload(ack), { qos: 1 });
  }

  /** A request to the module that answers its op; its refusal goes back as the error envelope. */
  private async onRequest(deviceId: string, op: RequestOp, topic: string, payload: Buffer): Promise<void> {
    const decoded = decodePayload(REQUEST_SCHEMAS[op], payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    const handler = this.options.operations.request(op);
    if (!handler) return this.reject(topic, `no module answers ${op} requests`);
    const request = decoded.value as { correlationId: string } & Record<string, unknown>;
    const { correlationId } = request;
    const logger = this.options.logger.child({ deviceId, op });
    let response: object;
    try {
      response = { v: 1, correlationId, status: 'ok', data: await handler.answer(request, { deviceId, logger }) };
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal) logger.info({ code: refusal.code }, 'device request refused');
      else logger.error({ err: (error as Error).message }, 'device request failed');
      response = { v: 1, correlationId, status: 'error', error: refusal ?? { code: 'HUB_ERROR', message: '中心暂时无法处理，请稍后再试 / The hub could not answer this request; please try again' } };
    }
    await this.client!.publishAsync(topics.response(deviceId, op), encodePayload(response), { qos: 1 });
  }

  private async onConfigReported(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const sync = this.options.sync;
    if (!sync) return;
    const report = decodePayload(ConfigReported, payload);
    if (!report.ok) return this.reject(topic, report.reason);
    try {
      await sync.config.recordReported(deviceId, report.value);
    } catch (error) {
      this.options.logger.error({ deviceId, err: (error as Error).message }, 'could not record a configuration report');
    }
  }

  private reject(topic: string, reason: string): void {
    this.counters.invalid += 1;
    this.options.logger.warn({ topic, reason }, 'rejected device message');
  }
}

