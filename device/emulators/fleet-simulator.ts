import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { TxAck, type DeviceStatus, type DeviceTransaction } from '../../shared/contract/payloads.ts';

/**
 * Many kiosks at the protocol level from one process, for fleet tests and benchmarks: each has its own
 * MQTT client (clientId = device id, retained status with a Last Will, as HubLink does), an outbox kept in
 * memory with device sequence numbers, cash top-ups published at QoS 1, acks matched by txId, and every
 * unacknowledged transaction published again on each (re)connect. No disk, no peripherals: the point is
 * the hub and the broker under load, not the kiosk's durability (the real kiosk process covers that).
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
  ack?: TxAck;
}

export interface SimulatedKioskOptions {
  url: string;
  deviceId: string;
  members: FleetMember[];
  /**
   * Unacknowledged transactions older than this are published again even without a reconnect (default
   * 30 s, as HubLink). Too short a period floods a busy hub with duplicates and measures those instead.
   */
  resendIntervalMs?: number;
  reconnectPeriodMs?: number;
}

export class SimulatedKiosk {
  readonly deviceId: string;
  readonly client: MqttClient;
  /** Kiosk → ack latencies in ms, in the order the acks arrived (first ack of each transaction only). */
  readonly latenciesMs: number[] = [];
  private readonly outbox = new Map<string, OutboxSlot>();
  private nextSeq = 1;
  private unacked = 0;
  private drainWaiters: Array<() => void> = [];
  private readonly resendTimer: NodeJS.Timeout;

  constructor(private readonly options: SimulatedKioskOptions) {
    this.deviceId = options.deviceId;
    this.client = mqtt.connect(options.url, {
      clientId: options.deviceId,
      clean: true,
      reconnectPeriod: options.reconnectPeriodMs ?? 500,
      connectTimeout: 10_000,
      will: { topic: topics.status(options.deviceId), payload: Buffer.from(this.status('offline')), qos: 1, retain: true },
    });
    this.client.on('connect', () => void this.onConnect());
    this.client.on('message', (_topic, payload) => this.onAck(payload));
    // Errors (refused connections while the broker is down) are expected here; reconnecting handles them.
    this.client.on('error', () => {});
    const every = options.resendIntervalMs ?? 30_000;
    this.resendTimer = setInterval(() => this.publishPending(performance.now() - every), every);
    this.resendTimer.unref();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Transactions recorded, in sequence order. */
  get transactions(): DeviceTransaction[] {
    return [...this.outbox.values()].map((slot) => slot.tx);
  }

  get pendingCount(): number {
    return this.unacked;
  }

  acksOf(status: TxAck['status']): TxAck[] {
    return [...this.outbox.values()].flatMap((slot) => (slot.ack?.status === status ? [slot.ack] : []));
  }

  /** Records a cash top-up in the outbox and publishes it now if connected (otherwise on the next connect). */
  topUp(amountFen: number, member = this.options.members[(this.nextSeq - 1) % this.options.members.length]!): DeviceTransaction {
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
    this.unacked += 1;
    if (this.client.connected) this.send(slot);
    return tx;
  }

  /** Resolves once every recorded transaction has its ack. */
  drained(timeoutMs = 60_000): Promise<void> {
    if (this.unacked === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.deviceId}: ${this.unacked} transaction(s) still unacknowledged after ${timeoutMs} ms`)), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.resendTimer);
    // Forced: a kiosk that is stopped mid-partition must not wait for a broker it cannot reach.
    await this.client.endAsync(!this.client.connected);
  }

  private async onConnect(): Promise<void> {
    try {
      await this.client.subscribeAsync(topics.txAck(this.deviceId), { qos: 1 });
      await this.client.publishAsync(topics.status(this.deviceId), this.status('online'), { qos: 1, retain: true });
    } catch {
      return; // lost the connection again before it was usable; the next connect retries
    }
    this.publishPending(Number.POSITIVE_INFINITY);
  }

  private publishPending(sentBefore: number): void {
    if (!this.client.connected) return;
    for (const slot of this.outbox.values()) {
      if (!slot.ack && (slot.lastSentAt ?? -Infinity) < sentBefore) this.send(slot);
    }
  }

  private send(slot: OutboxSlot): void {
    const now = performance.now();
    slot.firstSentAt ??= now;
    slot.lastSentAt = now;
    this.client.publish(topics.tx(this.deviceId), encodePayload(slot.tx), { qos: 1 });
  }

  private onAck(payload: Buffer): void {
    const decoded = decodePayload(TxAck, payload);
    if (!decoded.ok) throw new Error(`${this.deviceId}: hub sent an invalid ack: ${decoded.reason}`);
    const slot = this.outbox.get(decoded.value.txId);
    if (!slot || slot.ack) return; // acks may arrive more than once
    slot.ack = decoded.value;
    this.latenciesMs.push(performance.now() - slot.firstSentAt!);
    this.unacked -= 1;
    if (this.unacked === 0) for (const wake of this.drainWaiters.splice(0)) wake();
  }

  private status(state: DeviceStatus['state']): string {
    const status: DeviceStatus = { v: 1, deviceId: this.deviceId, state, at: new Date().toISOString(), softwareVersion: 'fleet-sim' };
    return encodePayload(status);
  }
}

export interface FleetOptions {
  url: string;
  count: number;
  deviceIdPrefix: string;
  members: FleetMember[];
  /** Kiosks connect this many at a time, each batch once the previous one is connected, so a large fleet does not hit the broker's accept queue all at once. */
  connectBatch?: number;
  resendIntervalMs?: number;
}

export interface Fleet {
  kiosks: SimulatedKiosk[];
  /** Resolves once every kiosk's outbox is fully acknowledged. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `count` simulated kiosks named `<prefix>-<n>` and resolves once all of them are connected. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const batch = options.connectBatch ?? 100;
  const kiosks: SimulatedKiosk[] = [];
  const fleet: Fleet = {
    kiosks,
    drained: async (timeoutMs) => void (await Promise.all(kiosks.map((kiosk) => kiosk.drained(timeoutMs)))),
    stop: async () => void (await Promise.all(kiosks.map((kiosk) => kiosk.stop()))),
  };
  try {
    for (let first = 0; first < options.count; first += batch) {
      const started: SimulatedKiosk[] = [];
      for (let i = first; i < Math.min(first + batch, options.count); i++) {
        started.push(
          new SimulatedKiosk({ url: options.url, deviceId: `${options.deviceIdPrefix}-${i + 1}`, members: options.members, resendIntervalMs: options.resendIntervalMs }),
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
