import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../shared/logger.ts';
import { hubSubscriptions, parseDeviceTopic, topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import {
  CardLookupRequest,
  DeviceStatus,
  DeviceTransaction,
  type CardLookupResponse,
  type MemberSnapshot,
  type TxAck,
} from '../../shared/contract/payloads.ts';
import { maskCardNumber, maskCardUid } from '../../shared/card.ts';

/** What the gateway needs from the ledger; the hub wires in the real one. */
export interface GatewayLedger {
  topUpCash(input: {
    idempotencyKey: string;
    memberId: string;
    cardUid: string;
    amountFen: number;
    deviceId: string;
    deviceSeq: number;
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
  clientId?: string;
  username?: string;
  password?: string;
}

export interface GatewayCounters {
  applied: number;
  replayed: number;
  refused: number;
  invalid: number;
}

/**
 * The hub's side of the device link. Applies device transactions to the ledger exactly once (the device's
 * txId is the idempotency key) and acknowledges each only after the database commit. Answers card lookups
 * (by NFC UID or by card number).
 * Every inbound payload is validated; an invalid one is logged with its reason and changes nothing.
 */
export class DeviceGateway {
  readonly counters: GatewayCounters = { applied: 0, replayed: 0, refused: 0, invalid: 0 };
  private client: MqttClient | undefined;

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
    client.on('message', (topic, payload) => void this.onMessage(topic, payload));
    client.on('error', (error) => this.options.logger.warn({ err: error.message }, 'gateway mqtt error'));
    // Re-subscribe on every reconnect: with a clean session the broker forgets our subscriptions.
    client.on('connect', () => void this.subscribe());
    await this.subscribe();
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }

  private async subscribe(): Promise<void> {
    await this.client!.subscribeAsync(
      [hubSubscriptions.transactions, hubSubscriptions.requests, hubSubscriptions.status],
      { qos: 1 },
    );
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseDeviceTopic(topic);
    if (!parsed) return this.reject(topic, 'topic is outside the device contract');
    if (parsed.channel === 'tx') return this.onTransaction(parsed.deviceId, topic, payload);
    if (parsed.channel === 'req' && parsed.op === 'card.lookup') return this.onCardLookup(parsed.deviceId, topic, payload);
    if (parsed.channel === 'status') {
      const status = decodePayload(DeviceStatus, payload);
      if (!status.ok) return this.reject(topic, status.reason);
      this.options.logger.info({ deviceId: parsed.deviceId, state: status.value.state }, 'device status');
    }
  }

  private async onTransaction(deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const decoded = decodePayload(DeviceTransaction, payload);
    if (!decoded.ok) return this.reject(topic, decoded.reason);
    const tx = decoded.value;
    if (tx.deviceId !== deviceId) return this.reject(topic, `payload device id ${tx.deviceId} does not match the topic`);
    const log = this.options.logger.child({ deviceId, txId: tx.txId, seq: tx.seq });
    let ack: TxAck;
    try {
      const result = await this.options.ledger.topUpCash({
        idempotencyKey: tx.txId,
        memberId: tx.body.memberId,
        cardUid: tx.body.cardUid,
        amountFen: tx.body.amountFen,
        deviceId,
        deviceSeq: tx.seq,
      });
      ack = { v: 1, txId: tx.txId, seq: tx.seq, status: 'ok', replay: result.replay, member: result.member };
      this.counters[result.replay ? 'replayed' : 'applied'] += 1;
      log.info({ replay: result.replay, amountFen: tx.body.amountFen }, 'device transaction applied');
    } catch (error) {
      const refusal = this.options.ledger.businessErrorOf(error);
      if (!refusal) {
        // Not acknowledged: the device keeps it in its outbox and sends it again.
        log.error({ err: (error as Error).message }, 'device transaction failed; not acknowledged');
        return;
      }
      this.counters.refused += 1;
      log.warn({ code: refusal.code }, 'device transaction refused');
      ack = { v: 1, txId: tx.txId, seq: tx.seq, status: 'error', error: refusal };
    }
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
      response = member
        ? { v: 1, correlationId, status: 'ok', data: member }
        : { v: 1, correlationId, status: 'error', error: { code: 'CARD_NOT_FOUND', message: 'This card is not registered' } };
    } catch (error) {
      const card = 'cardUid' in request ? maskCardUid(request.cardUid) : maskCardNumber(request.cardNumber);
      this.options.logger.error({ deviceId, card, err: (error as Error).message }, 'card lookup failed');
      response = { v: 1, correlationId, status: 'error', error: { code: 'HUB_ERROR', message: 'The hub could not look up this card' } };
    }
    await this.client!.publishAsync(topics.response(deviceId, 'card.lookup'), encodePayload(response), { qos: 1 });
  }

  private reject(topic: string, reason: string): void {
    this.counters.invalid += 1;
    this.options.logger.warn({ topic, reason }, 'rejected device message');
  }
}
