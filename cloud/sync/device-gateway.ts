import type { BrokerLink, BrokerSession } from '../mqtt/broker-session.ts';
import { sharedSubscription } from '../mqtt/shared-subscriptions.ts';
import type { Logger } from '../../shared/logger.ts';
import { hubSubscriptions, parseDeviceTopic, topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload, envelopesWithinPayloadLimit } from '../../shared/contract/decode.ts';
import { CardLookupRequest, ConfigReported, DeviceStatus, DeviceTransaction, DeviceTransactions, type MemberSnapshot, type SyncRequest, type TxAck, TxAcks } from '../../shared/contract/payloads.ts';
import type { RequestOp } from '../../shared/contract/topics.ts';
import type { Database } from '../db/database.ts';
import { bilingual, refusalOf } from '../kernel/errors.ts';
import type { DeviceOperationsRegistry } from '../kernel/module.ts';
import { applyDeviceBatch, type BatchResult, type QueuedTransaction } from './device-batch.ts';
import type { DeviceSync } from './device-sync.ts';
import { type BatchTuning, TransactionBatcher } from './transaction-batcher.ts';

/** The request payload schema of each request op (the contract in shared/contract). */
const REQUEST_SCHEMAS = { 'card.lookup': CardLookupRequest } as const satisfies Record<RequestOp, unknown>;

/**
 * Batches close at 256 transactions, or on the event loop's next turn after the first one reached an idle lane: no
 * linger, since waiting gathers nothing at an idle lane (at 500 tx/s 2 ms held one transaction) and under load a
 * batch fills while the lane's previous one runs. PGlite has one connection, so one lane; on PostgreSQL four
 * batches run side by side (of the pool's ten connections), so the server has a batch to work on while others wait
 * for their commit to be flushed. Lanes are by device: a device's sequence mark (device_sync) is then written by one
 * lane only, where lanes by member waited on each other's device rows until commit. Under the ingest bench (1,000
 * kiosks, durable PostgreSQL, two cores; means of 4–9 runs, each ±10 %) two lanes by member ingested 8,160 tx/s, two
 * by device 8,090, four by device 8,760, three 7,650 and six 8,100 (smaller batches). Past 4,096 queued, the gateway
 * stops reading from the broker, which holds the rest.
 */
const BATCH_DEFAULTS: Record<Database['backend'], BatchTuning> = {
  pglite: { maxSize: 256, lingerMs: 0, lanes: 1, maxQueued: 4096 },
  postgres: { maxSize: 256, lingerMs: 0, lanes: 4, maxQueued: 4096 },
};

export interface DeviceGatewayOptions {
  /** The broker the kiosks use (the embedded one in process, or an external one). */
  link: BrokerLink;
  /** The hub database: each batch of device transactions is one transaction on it. */
  db: Database;
  /** Batch sizes and lanes, instead of the backend's defaults (BATCH_DEFAULTS). */
  batch?: Partial<BatchTuning>;
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
 * The hub's side of the device link. Queues device transactions and applies them in batches (transaction-batcher.ts,
 * device-batch.ts): one database transaction per batch, in which each kind's module applies its transactions exactly
 * once (the device's txId is the idempotency key); acknowledges each only after that commit. Hands each request to
 * the module that answers its op. Every inbound payload is validated; an invalid one is logged with its reason and
 * changes nothing.
 */
export class DeviceGateway {
  readonly counters: GatewayCounters = { applied: 0, replayed: 0, refused: 0, invalid: 0, conflicts: 0, anomalies: {} };
  private session: BrokerSession | undefined;
  /** Messages being handled and acks being published: stop() lets them finish, so no ack is lost to a closing client. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly batcher: TransactionBatcher<QueuedTransaction>;
  /** Devices online with a status that asks for the acks of one commit together on tx/acks (DeviceStatus.batchedAcks). */
  private readonly batchedAckDevices = new Set<string>();
  private stopping = false;

  constructor(private readonly options: DeviceGatewayOptions) {
    this.batcher = new TransactionBatcher<QueuedTransaction>({
      ...BATCH_DEFAULTS[options.db.backend],
      ...options.batch,
      orderKey: ({ tx }) => tx.deviceId,
      run: (batch) => this.runBatch(batch),
      onError: (error) => options.logger.error({ err: error.message }, 'device transaction batch could not be answered'),
    });
  }

  async start(): Promise<void> {
    const { link, sync, logger } = this.options;
    // Back-pressure: while too many transactions wait, the next message is not taken, so the broker holds the
    // rest (and the PUBACK to their senders waits too). Acks are never awaited while intake is held: over an
    // external broker their PUBACKs arrive on the very connection that is held.
    const session = await link.connect('gateway', (topic, payload, done) => {
      this.onMessage(topic, payload);
      this.batcher.whenRoom(done);
    }, logger);
    this.session = session;
    if (sync) {
      const publish = (topic: string, message: string, opts: { retain?: boolean } = {}) => session.publish(topic, message, opts);
      sync.members.start(publish);
      sync.config.start(publish);
    }
    // Several hub instances on one external broker share the device load: with a group, transactions and requests
    // are subscribed as `$share/<group>/…`, so each reaches exactly one instance (Mosquitto, EMQX; Aedes has none).
    const shared = (filter: string) => (link.shareGroup ? sharedSubscription(filter, link.shareGroup) : filter);
    await session.subscribe([
      shared(hubSubscriptions.transactions),
      shared(hubSubscriptions.transactionGroups),
      shared(hubSubscriptions.requests),
      hubSubscriptions.status,
      ...(sync ? [hubSubscriptions.configReported] : []),
    ]);
    // A broker that restarted lost the retained configurations it held for the kiosks.
    session.onReconnect(() => void sync?.config.republish().catch((error: Error) => logger.error({ err: error.message }, 'gateway could not republish configurations')));
    await sync?.config.republish();
  }

  async stop(): Promise<void> {
    // Transactions still arriving are left to the kiosks' resends: waiting for a steady stream to pause would
    // never end. What is queued is applied and answered.
    this.stopping = true;
    await this.batcher.idle();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.options.sync?.members.stop();
    this.options.sync?.config.stop();
    await this.session?.close();
  }

  /** Resolves once `work` is done, failed or not (a failure is logged). */
  private track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((error: Error) => this.options.logger.error({ err: error.message }, 'device message handling failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return tracked;
  }

  /** Publishes at QoS 1 without waiting for the broker to have it (see start()); stop() waits for it. */
  private publish(topic: string, payload: string): Promise<void> {
    return this.track(this.session!.publish(topic, payload));
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseDeviceTopic(topic);
    if (!parsed) return this.reject(topic, 'topic is outside the device contract');
    if (parsed.channel === 'tx') return this.onTransaction(parsed.deviceId, topic, payload);
    if (parsed.channel === 'txs') return this.onTransactions(parsed.deviceId, topic, payload);
    if (parsed.channel === 'req' && parsed.op) return void this.track(this.onRequest(parsed.deviceId, parsed.op, topic, payload));
    if (parsed.channel === 'config/reported') return void this.track(this.onConfigReported(parsed.deviceId, topic, payload));
    if (parsed.channel === 'status') {
      const status = decodePayload(DeviceStatus, payload);
      if (!status.ok) return this.reject(topic, status.reason);
      this.options.logger.info({ deviceId: parsed.deviceId, state: status.value.state }, 'device status');
      if (status.value.state === 'online' && status.value.batchedAcks) this.batchedAckDevices.add(parsed.deviceId);
      else this.batchedAckDevices.delete(parsed.deviceId);
      // A kiosk nobody has configured yet gets the default configuration, and with it the program rules.
      if (this.options.sync) this.track(this.options.sync.config.onStatus(parsed.deviceId, status.value));
    }
  }

  /** Validates a transaction and queues it for its batch. */
  private onTransaction(deviceId: string, topic: string, payload: Buffer): void {
    const decoded = decodePayload(DeviceTransaction, payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    this.queue(deviceId, topic, decoded.value);
  }

  /** Several transactions in one message (txs): each queued as if it had come alone on tx, a bad one refused alone. */
  private onTransactions(deviceId: string, topic: string, payload: Buffer): void {
    const decoded = decodePayload(DeviceTransactions, payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    for (const tx of decoded.value.txs) this.queue(deviceId, topic, tx);
  }

  private queue(deviceId: string, topic: string, tx: DeviceTransaction): void {
    if (tx.deviceId !== deviceId) return this.reject(topic, `payload device id ${tx.deviceId} does not match the topic`);
    const handler = this.options.operations.transaction(tx.body.kind);
    if (!handler) return this.reject(topic, `no module handles device transactions of kind ${tx.body.kind}`);
    if (this.stopping) return;
    this.batcher.push({ tx, handler });
  }

  /**
   * Applies one batch and answers it after the commit; resolves with the transactions left for the next batch. A
   * batch that fails as a whole (a deadlock, a bug one transaction triggers) is tried again one transaction at a
   * time, so the others are not held up; one that fails alone is not acknowledged: the device keeps it in its outbox
   * and sends it again.
   */
  private async runBatch(batch: QueuedTransaction[]): Promise<QueuedTransaction[]> {
    let result: BatchResult;
    try {
      result = await applyDeviceBatch(this.options.db, this.options.sync?.sequences, batch, this.options.logger);
    } catch (error) {
      const err = (error as Error).message;
      if (batch.length === 1) {
        const { deviceId, txId, seq } = batch[0]!.tx;
        this.options.logger.error({ deviceId, txId, seq, err }, 'device transaction failed; not acknowledged');
        return [];
      }
      this.options.logger.warn({ transactions: batch.length, err }, 'device transaction batch failed; applying its transactions one by one');
      const undecided: QueuedTransaction[] = [];
      for (const item of batch) undecided.push(...(await this.runBatch([item])));
      return undecided;
    }
    this.answer(result);
    return result.deferred;
  }

  /** Everything a committed batch decided goes back to the devices: acks, conflicts, requests to resend a hole. */
  private answer({ decisions, gaps }: BatchResult): void {
    const { sync, logger } = this.options;
    for (const [deviceId, gap] of gaps) {
      logger.warn({ deviceId, ...gap }, 'device sequence gap; asking the device to resend');
      const request: SyncRequest = { v: 1, ...gap };
      this.publish(topics.sync(deviceId), encodePayload(request));
    }
    const changedMembers: MemberSnapshot[] = [];
    const acksByDevice = new Map<string, TxAck[]>();
    for (const { item, outcome } of decisions) {
      const { deviceId, txId, seq } = item.tx;
      if (outcome.status === 'conflict') {
        this.refuseSequenceConflict(txId, seq, deviceId, outcome.claimedBy);
        continue;
      }
      let ack: TxAck;
      if (outcome.status === 'applied') {
        if (outcome.anomaly) {
          const { kind, detail } = outcome.anomaly;
          this.counters.anomalies[kind] = (this.counters.anomalies[kind] ?? 0) + 1;
          logger.warn({ deviceId, txId, seq, anomaly: kind, ...detail }, 'device transaction posted with an anomaly for staff to look at');
        }
        ack = { v: 1, txId, seq, status: 'ok', replay: outcome.replay, member: outcome.member };
        this.counters[outcome.replay ? 'replayed' : 'applied'] += 1;
        logger.info({ deviceId, txId, seq, replay: outcome.replay, ...outcome.logged }, 'device transaction applied');
        // Not awaited: tracking never delays an answer, and a late row only means one more update.
        void sync?.members.seen(deviceId, outcome.member);
        if (!outcome.replay) changedMembers.push(outcome.member);
      } else {
        const refusal = refusalOf(outcome.error);
        if (!refusal) {
          logger.error({ deviceId, txId, seq, err: (outcome.error as Error).message }, 'device transaction failed; not acknowledged');
          continue;
        }
        ack = { v: 1, txId, seq, status: 'error', error: refusal };
        this.counters.refused += 1;
        logger.warn({ deviceId, txId, seq, code: refusal.code }, 'device transaction refused');
      }
      const deviceAcks = acksByDevice.get(deviceId);
      if (deviceAcks) deviceAcks.push(ack);
      else acksByDevice.set(deviceId, [ack]);
    }
    const acks = [...acksByDevice].flatMap(([deviceId, deviceAcks]) => this.sendAcks(deviceId, deviceAcks));
    // The members' sweep goes after the acks: on PGlite its queries run on this very thread, and would hold them.
    if (sync && changedMembers.length > 0) void this.track(Promise.all(acks).then(() => sync.members.changed(changedMembers)));
  }

  /**
   * A device's acks from one commit: together on tx/acks when its status asked for that (even a single one: from
   * that message the device learns that this hub also takes its transactions together, on txs), else each on
   * tx/ack. Under the ingest bench (1,000 kiosks, ten top-ups each at once) one message per kiosk and batch instead
   * of one per transaction cost the hub process 15 % and the kiosks 20 % less CPU per transaction, and ingested 8 %
   * more (means of 4 interleaved runs on PostgreSQL); the kiosks' transactions together on txs, another 16 % and
   * 20 % less, 12 % more (3 runs).
   */
  private sendAcks(deviceId: string, acks: TxAck[]): Promise<void>[] {
    const encoded = acks.map(encodePayload);
    if (!this.batchedAckDevices.has(deviceId)) return encoded.map((ack) => this.publish(topics.txAck(deviceId), ack));
    return envelopesWithinPayloadLimit('acks', encoded, TxAcks.properties.acks.maxItems!).map((message) => this.publish(topics.txAcks(deviceId), message));
  }

  /** Two transactions with one device sequence number: the device's numbering is broken, so neither is guessed at. */
  private refuseSequenceConflict(txId: string, seq: number, deviceId: string, claimedBy: string): void {
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
    this.publish(topics.txAck(deviceId), encodePayload(ack));
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
    await this.session!.publish(topics.response(deviceId, op), encodePayload(response));
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
