import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { newId } from '../../shared/ids.ts';
import { tuneMqttSocket } from '../../shared/mqtt-socket.ts';
import { topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { TxAck, TxAcks, type DeviceStatus, type DeviceTransaction } from '../../shared/contract/payloads.ts';
import type { ResendPolicy } from '../sync/resend-schedule.ts';
import { OutboxStream } from '../sync/resend-stream.ts';
import { TransactionSender } from '../sync/transaction-sender.ts';

/**
 * Many kiosks at the protocol level from one process, for fleet tests and benchmarks: each has its own
 * MQTT client (clientId = device id, retained status with a Last Will, as HubLink does), an outbox kept in
 * memory with device sequence numbers, cash top-ups published at QoS 1 and acks matched by txId. It streams
 * its outbox with the kiosk's own OutboxStream (window, resend when an ack is overdue, back-off, restart from
 * the oldest on reconnect), so fleet benchmarks measure the real policy. No disk, no peripherals: the point
 * is the hub and the broker under load, not the kiosk's durability (the real kiosk process covers that).
 */

export interface FleetMember {
  memberId: string;
  cardUid: string;
}

interface OutboxSlot {
  tx: DeviceTransaction;
  /** performance.now() of the first publish; latency runs from here, so a resend does not hide a lost ack. */
  firstSentAt?: number;
  lastSentAt?: number;
  /** Which connection (1 = the first) the last publish went out on. */
  sentOnConnection?: number;
  ack?: TxAck;
}

export interface SimulatedKioskOptions {
  url: string;
  deviceId: string;
  members: FleetMember[];
  /**
   * Which of `members` this kiosk's top-ups go to: the n-th (from 0) is for members[(first + n × step) % length].
   * By default every kiosk goes through the whole list from its start.
   */
  memberSpread?: { first: number; step: number };
  /** Send window, ack timeout and back-off cap: HubLink's defaults (DEFAULT_RESEND_POLICY) unless given. */
  resend?: Partial<ResendPolicy>;
  reconnectPeriodMs?: number;
  /** Asks for the acks of one hub commit together on tx/acks, as HubLink does (default); false: an older kiosk's one by one. */
  batchedAcks?: boolean;
}

export class SimulatedKiosk {
  readonly deviceId: string;
  readonly client: MqttClient;
  /** Kiosk → ack latencies in ms, in the order the acks arrived (first ack of each transaction only). */
  readonly latenciesMs: number[] = [];
  /**
   * Publishes of a transaction sooner than the ack timeout after its previous publish on the same connection,
   * i.e. before its ack was overdue: what the resend policy promises never to do. Counted here, at the
   * publish, apart from the schedule's own bookkeeping. A reconnect does not count: the session that would
   * have carried the ack is gone (OutboxStream.connected).
   */
  duplicatePublishes = 0;
  /** Every publish of a transaction, first ones and resends. */
  publishes = 0;
  private readonly outbox = new Map<string, OutboxSlot>();
  /** The unacknowledged slots, in sequence order: what the stream reads. */
  private readonly pending = new Map<string, OutboxSlot>();
  private readonly stream: OutboxStream<OutboxSlot>;
  private readonly sender: TransactionSender;
  private nextSeq = 1;
  private connections = 0;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly options: SimulatedKioskOptions) {
    this.deviceId = options.deviceId;
    this.client = mqtt.connect(options.url, {
      clientId: options.deviceId,
      clean: true,
      reconnectPeriod: options.reconnectPeriodMs ?? 500,
      connectTimeout: 10_000,
      will: { topic: topics.status(options.deviceId), payload: Buffer.from(this.status('offline')), qos: 1, retain: true },
    });
    this.sender = new TransactionSender(options.deviceId, (topic, payload) => this.client.publish(topic, payload, { qos: 1 }));
    this.stream = new OutboxStream<OutboxSlot>({
      pending: () => this.pending.values(),
      // Always with a send state here: the simulator never answers the hub's sync requests (stream.resend).
      publish: (slot, send) => this.send(slot, send!.lastSentAt, send!.attempts > 1),
      ...(options.resend ? { policy: options.resend } : {}),
    });
    this.client.on('connect', () => void this.onConnect());
    this.client.on('close', () => this.stream.disconnected());
    this.client.on('message', (topic, payload) => (topic === topics.txAcks(this.deviceId) ? this.onAcks(payload) : this.onAck(payload)));
    // Errors (refused connections while the broker is down) are expected here; reconnecting handles them.
    this.client.on('error', () => {});
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Transactions recorded, in sequence order. */
  get transactions(): DeviceTransaction[] {
    return [...this.outbox.values()].map((slot) => slot.tx);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  acksOf(status: TxAck['status']): TxAck[] {
    return [...this.outbox.values()].flatMap((slot) => (slot.ack?.status === status ? [slot.ack] : []));
  }

  /** Records a cash top-up in the outbox; it is published in sequence order as the window has room (and once connected). */
  topUp(amountFen: number, member = this.nextMember()): DeviceTransaction {
    const tx: DeviceTransaction = {
      v: 1,
      txId: newId(),
      deviceId: this.deviceId,
      seq: this.nextSeq++,
      createdAt: new Date().toISOString(),
      body: { kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen, currency: 'CNY' },
    };
    const slot: OutboxSlot = { tx };
    this.outbox.set(tx.txId, slot);
    this.pending.set(tx.txId, slot);
    this.stream.wake();
    return tx;
  }

  /** Resolves once every recorded transaction has its ack. */
  drained(timeoutMs = 60_000): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.deviceId}: ${this.pending.size} transaction(s) still unacknowledged after ${timeoutMs} ms`)), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.stream.disconnected();
    // Forced: a kiosk that is stopped mid-partition must not wait for a broker it cannot reach.
    await this.client.endAsync(!this.client.connected);
  }

  private async onConnect(): Promise<void> {
    // As the kiosk's HubLink does: no Nagle (a publish right after a PUBACK would wait ~40 ms), one write per turn.
    tuneMqttSocket(this.client);
    this.sender.connected();
    try {
      await this.client.subscribeAsync([topics.txAck(this.deviceId), topics.txAcks(this.deviceId)], { qos: 1 });
      await this.client.publishAsync(topics.status(this.deviceId), this.status('online'), { qos: 1, retain: true });
    } catch {
      return; // lost the connection again before it was usable; the next connect retries
    }
    this.connections += 1;
    this.stream.connected();
  }

  /** Publishes `slot` at `now`, the stream's clock reading when it decided to (its timers run on the same clock). */
  private send(slot: OutboxSlot, now: number, resend: boolean): void {
    const { ackTimeoutMs } = this.stream.schedule.policy;
    if (slot.sentOnConnection === this.connections && now - slot.lastSentAt! < ackTimeoutMs) this.duplicatePublishes += 1;
    this.publishes += 1;
    slot.firstSentAt ??= now;
    slot.lastSentAt = now;
    slot.sentOnConnection = this.connections;
    this.sender.send(slot.tx, resend);
  }

  private onAck(payload: Buffer): void {
    const decoded = decodePayload(TxAck, payload);
    if (!decoded.ok) throw new Error(`${this.deviceId}: hub sent an invalid ack: ${decoded.reason}`);
    this.settle(decoded.value);
  }

  private onAcks(payload: Buffer): void {
    const decoded = decodePayload(TxAcks, payload);
    if (!decoded.ok) throw new Error(`${this.deviceId}: hub sent invalid acks: ${decoded.reason}`);
    this.sender.hubAnsweredTogether();
    for (const ack of decoded.value.acks) this.settle(ack);
  }

  private settle(ack: TxAck): void {
    const slot = this.outbox.get(ack.txId);
    if (!slot || slot.ack) return; // acks may arrive more than once
    slot.ack = ack;
    this.latenciesMs.push(performance.now() - slot.firstSentAt!);
    this.pending.delete(slot.tx.txId);
    this.stream.acked(slot.tx.txId);
    if (this.pending.size === 0) for (const wake of this.drainWaiters.splice(0)) wake();
  }

  private nextMember(): FleetMember {
    const { members, memberSpread = { first: 0, step: 1 } } = this.options;
    return members[(memberSpread.first + (this.nextSeq - 1) * memberSpread.step) % members.length]!;
  }

  private status(state: DeviceStatus['state']): string {
    const status: DeviceStatus = { v: 1, deviceId: this.deviceId, state, at: new Date().toISOString(), softwareVersion: 'fleet-sim', batchedAcks: this.options.batchedAcks ?? true };
    return encodePayload(status);
  }
}

export interface FleetOptions {
  url: string;
  count: number;
  deviceIdPrefix: string;
  members: FleetMember[];
  /**
   * Each kiosk serves members of its own, as kiosks in different stores do: kiosk i (from 0) tops up members i,
   * i + count, i + 2 × count, … So no two kiosks share a member when there are enough of them, and a member's
   * balance change is news to no other kiosk. By default every kiosk goes through the same list from its start.
   */
  ownMembers?: boolean;
  /** Kiosks connect this many at a time, each batch once the previous one is connected, so a large fleet does not hit the broker's accept queue all at once. */
  connectBatch?: number;
  resend?: Partial<ResendPolicy>;
}

export interface Fleet {
  kiosks: SimulatedKiosk[];
  /** Resolves once every kiosk's outbox is fully acknowledged. */
  drained(timeoutMs?: number): Promise<void>;
  /** All kiosks' publishes before an ack was overdue (SimulatedKiosk.duplicatePublishes). */
  duplicatePublishes(): number;
  stop(): Promise<void>;
}

/** Starts `count` simulated kiosks named `<prefix>-<n>` and resolves once all of them are connected. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const batch = options.connectBatch ?? 100;
  const kiosks: SimulatedKiosk[] = [];
  const fleet: Fleet = {
    kiosks,
    drained: async (timeoutMs) => void (await Promise.all(kiosks.map((kiosk) => kiosk.drained(timeoutMs)))),
    duplicatePublishes: () => kiosks.reduce((sum, kiosk) => sum + kiosk.duplicatePublishes, 0),
    stop: async () => void (await Promise.all(kiosks.map((kiosk) => kiosk.stop()))),
  };
  try {
    for (let first = 0; first < options.count; first += batch) {
      const started: SimulatedKiosk[] = [];
      for (let i = first; i < Math.min(first + batch, options.count); i++) {
        started.push(
          new SimulatedKiosk({
            url: options.url,
            deviceId: `${options.deviceIdPrefix}-${i + 1}`,
            members: options.members,
            ...(options.ownMembers ? { memberSpread: { first: i, step: options.count } } : {}),
            ...(options.resend ? { resend: options.resend } : {}),
          }),
        );
      }
      kiosks.push(...started);
      await Promise.all(started.map((kiosk) => whenConnected(kiosk)));
    }
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  return fleet;
}

function whenConnected(kiosk: SimulatedKiosk, timeoutMs = 30_000): Promise<void> {
  if (kiosk.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kiosk.deviceId} did not connect within ${timeoutMs} ms`)), timeoutMs);
    kiosk.client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
