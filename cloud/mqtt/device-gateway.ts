import mqtt, { type MqttClient } from 'mqtt';
import { noDelay } from '../../shared/mqtt-no-delay.ts';
import { sharedSubscription } from './shared-subscriptions.ts';
import type { Logger } from '../../shared/logger.ts';
import { hubSubscriptions, parseDeviceTopic, topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import {
  CardLookupRequest,
  ConfigReported,
  DeviceStatus,
  DeviceTransaction,
  type CardLookupResponse,
  type MemberSnapshot,
  type SyncRequest,
  type TxAck,
} from '../../shared/contract/payloads.ts';
import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import type { PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import type { TopUpBonusRule } from '../../shared/rules/topup-bonus.ts';
import type { DeviceSync } from '../sync/index.ts';
import { topUpPricingOf } from './topup-pricing.ts';

/** What the gateway needs from the ledger; the hub wires in the real one. */
export interface GatewayLedger {
  topUpCash(input: {
    idempotencyKey: string;
    memberId: string;
    cardUid: string;
    amountFen: number;
    deviceId: string;
    deviceSeq: number;
    /** The bonus rules as they apply to this bill (see topup-pricing.ts); absent: the kiosk priced no bonus. */
    bonusRules?: readonly TopUpBonusRule[];
    /** The instant the rules are evaluated at: the kiosk's occurredAt, never the hub's "now". */
    at?: Date;
    pointsExpiry?: PointsExpiryPolicy;
    /** Names the bonus rule and rules version that priced it. */
    reason?: string;
  }): Promise<{ replay: boolean; member: MemberSnapshot }>;
  findMemberByCard(cardUid: string): Promise<MemberSnapshot | undefined>;
  findMemberByCardNumber(cardNumber: string): Promise<MemberSnapshot | undefined>;
  /** A business refusal (insufficient balance, idempotency conflict…) is final; anything else is retried. */
  businessErrorOf(error: unknown): { code: string; message: string } | undefined;
}

export interface DeviceGatewayOptions {
  url: string;
  ledger: GatewayLedger;
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
  /** Top-ups whose bonus the hub computed differently from the kiosk's promise (the hub's result is posted). */
  pricingMismatches: number;
}

/**
 * The hub's side of the device link. Applies device transactions to the ledger exactly once (the device's
 * txId is the idempotency key) and acknowledges each only after the database commit. Answers card lookups
 * (by NFC UID or by card number).
 * Every inbound payload is validated; an invalid one is logged with its reason and changes nothing.
 */
export class DeviceGateway {
  readonly counters: GatewayCounters = { applied: 0, replayed: 0, refused: 0, invalid: 0, conflicts: 0, pricingMismatches: 0 };
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
    if (parsed.channel === 'req' && parsed.op === 'card.lookup') return this.onCardLookup(parsed.deviceId, topic, payload);
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
    const log = this.options.logger.child({ deviceId, txId: tx.txId, seq: tx.seq });
    const { sync } = this.options;
    let ack: TxAck;
    try {
      const claim = await sync?.sequences.claim(deviceId, tx.seq, tx.txId);
      if (claim && !claim.ok) return await this.refuseSequenceConflict(tx.txId, tx.seq, deviceId, claim.claimedBy);
      const pricing = sync ? await topUpPricingOf(sync.program, tx) : undefined;
      if (pricing?.mismatch) {
        this.counters.pricingMismatches += 1;
        log.warn({ kiosk: tx.body.pricing, hub: pricing.price }, 'kiosk and hub priced a top-up differently; posting the hub\'s result');
      }
      const result = await this.options.ledger.topUpCash({
        idempotencyKey: tx.txId,
        memberId: tx.body.memberId,
        cardUid: tx.body.cardUid,
        amountFen: tx.body.amountFen,
        deviceId,
        deviceSeq: tx.seq,
        ...(pricing ? { bonusRules: pricing.bonusRules, at: pricing.at, pointsExpiry: pricing.pointsExpiry, reason: pricing.reason } : {}),
      });
      ack = { v: 1, txId: tx.txId, seq: tx.seq, status: 'ok', replay: result.replay, member: result.member };
      await this.settle(deviceId, tx.seq);
      this.counters[result.replay ? 'replayed' : 'applied'] += 1;
      const priced = pricing && { rulesVersion: pricing.rulesVersion, ...pricing.price };
      log.info({ replay: result.replay, amountFen: tx.body.amountFen, priced }, 'device transaction applied');
      // Not awaited (nor below): tracking never delays an answer, and a late row only means one more update.
      void sync?.members.seen(deviceId, result.member);
      if (!result.replay) sync?.members.poke();
    } catch (error) {
      const refusal = this.options.ledger.businessErrorOf(error);
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
      error: { code: 'SEQUENCE_CONFLICT', message: `Sequence ${seq} of this device already belongs to another transaction; nothing was posted.` },
    };
    await this.client!.publishAsync(topics.txAck(deviceId), encodePayload(ack), { qos: 1 });
  }

  private async onCardLookup(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const decoded = decodePayload(CardLookupRequest, payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    const request = decoded.value;
    const { correlationId } = request;
    const { ledger } = this.options;
    let response: CardLookupResponse;
    try {
      // The schema admits exactly one of the two keys.
      const member =
        'cardUid' in request ? await ledger.findMemberByCard(request.cardUid) : await ledger.findMemberByCardNumber(request.cardNumber);
      if (member) void this.options.sync?.members.seen(deviceId, member);
      response = member
        ? { v: 1, correlationId, status: 'ok', data: member }
        : { v: 1, correlationId, status: 'error', error: { code: 'CARD_NOT_FOUND', message: 'This card is not registered' } };
    } catch (error) {
      const card = 'cardUid' in request ? maskCardUid(request.cardUid) : maskCardNumber(request.cardNumber);
      // A refusal (lost, frozen, cancelled or replaced card) goes to the kiosk as is: its code and bilingual text.
      const refusal = ledger.businessErrorOf(error);
      if (refusal) this.options.logger.info({ deviceId, card, code: refusal.code }, 'card lookup refused');
      else this.options.logger.error({ deviceId, card, err: (error as Error).message }, 'card lookup failed');
      response = {
        v: 1,
        correlationId,
        status: 'error',
        error: refusal ?? { code: 'HUB_ERROR', message: 'The hub could not look up this card' },
      };
    }
    await this.client!.publishAsync(topics.response(deviceId, 'card.lookup'), encodePayload(response), { qos: 1 });
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

