import { describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import {
  CardLookupRequest,
  CardLookupResponse,
  ConfigReported,
  DesiredConfig,
  SyncRequest,
  decodePayload,
  DeviceTransaction,
  MemberSnapshot,
  MemberUpdate,
  InvalidTopicError,
  MAX_PAYLOAD_BYTES,
  parseDeviceTopic,
  topics,
  TxAck,
  TxAcks,
  DeviceTransactions,
  envelopesWithinPayloadLimit,
  DeviceStatus,
} from '../../shared/contract/index.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';

const validTx = () => ({
  v: 1,
  txId: newId(),
  deviceId: 'kiosk-001',
  seq: 1,
  createdAt: new Date().toISOString(),
  body: { kind: 'cash_topup', memberId: newId(), cardUid: '04A22B1C', amountFen: 10000, currency: 'CNY' },
});

describe('topic contract', () => {
  it('builds and parses every device topic', () => {
    expect(topics.tx('kiosk-001')).toBe('mk/v1/devices/kiosk-001/tx');
    expect(parseDeviceTopic(topics.tx('kiosk-001'))).toEqual({ deviceId: 'kiosk-001', channel: 'tx' });
    expect(parseDeviceTopic(topics.txAck('k1'))).toEqual({ deviceId: 'k1', channel: 'tx/ack' });
    expect(parseDeviceTopic(topics.txAcks('k1'))).toEqual({ deviceId: 'k1', channel: 'tx/acks' });
    expect(parseDeviceTopic(topics.txs('k1'))).toEqual({ deviceId: 'k1', channel: 'txs' });
    expect(parseDeviceTopic(topics.request('k1', 'card.lookup'))).toEqual({ deviceId: 'k1', channel: 'req', op: 'card.lookup' });
    expect(parseDeviceTopic(topics.status('k1'))).toEqual({ deviceId: 'k1', channel: 'status' });
  });

  it.each(['kiosk/1', 'kiosk+', '#', '', 'a b'])('refuses to build a topic for device id "%s"', (deviceId) => {
    expect(() => topics.tx(deviceId)).toThrow(InvalidTopicError);
  });

  it.each(['mk/v1/devices/k1/unknown', 'mk/v1/devices/+/tx', 'other/k1/tx', 'mk/v1/devices/k1/req/drop.tables', 'mk/v1/devices/k1/tx/ack/extra'])(
    'does not recognise %s',
    (topic) => {
      expect(parseDeviceTopic(topic)).toBeUndefined();
    },
  );
});

describe('payload validation', () => {
  it('accepts a well-formed device transaction', () => {
    const tx = validTx();
    expect(decodePayload(DeviceTransaction, JSON.stringify(tx))).toEqual({ ok: true, value: tx });
  });

  it.each([
    ['not JSON', '{"v":1,', 'payload is not valid JSON'],
    ['a float amount', { ...validTx(), body: { ...validTx().body, amountFen: 100.5 } }, '/body/amountFen'],
    ['a negative amount', { ...validTx(), body: { ...validTx().body, amountFen: -100 } }, '/body/amountFen'],
    ['an amount as text', { ...validTx(), body: { ...validTx().body, amountFen: '100' } }, '/body/amountFen'],
    ['a bad card UID', { ...validTx(), body: { ...validTx().body, cardUid: 'xyz' } }, '/body/cardUid'],
    ['an unknown kind', { ...validTx(), body: { ...validTx().body, kind: 'free_money' } }, '/body/kind'],
    ['a non-uuid id', { ...validTx(), txId: 'abc' }, '/txId'],
    ['an extra field', { ...validTx(), admin: true }, ''],
    ['sequence 0', { ...validTx(), seq: 0 }, '/seq'],
    ['a bad timestamp', { ...validTx(), createdAt: 'yesterday' }, '/createdAt'],
    ['an array', [], '(root)'],
  ])('rejects %s with a reason', (_label, payload, reasonPart) => {
    const decoded = decodePayload(DeviceTransaction, typeof payload === 'string' ? payload : JSON.stringify(payload));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(reasonPart);
  });

  it('rejects an oversized payload before parsing it', () => {
    const decoded = decodePayload(DeviceTransaction, Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20));
    expect(decoded).toEqual({ ok: false, reason: `payload too large: ${MAX_PAYLOAD_BYTES + 1} bytes (max ${MAX_PAYLOAD_BYTES})` });
  });

  it('tells an ok ack from an error ack', () => {
    const error = { v: 1, txId: newId(), seq: 3, status: 'error', error: { code: 'IDEMPOTENCY_CONFLICT', message: 'x' } };
    expect(decodePayload(TxAck, JSON.stringify(error)).ok).toBe(true);
    expect(decodePayload(TxAck, JSON.stringify({ ...error, status: 'ok' })).ok).toBe(false);
  });

  it('takes the acks of one commit together, each a whole ack, at least one', () => {
    const error = { v: 1, txId: newId(), seq: 3, status: 'error', error: { code: 'IDEMPOTENCY_CONFLICT', message: 'x' } };
    expect(decodePayload(TxAcks, JSON.stringify({ v: 1, acks: [error, { ...error, seq: 4, txId: newId() }] })).ok).toBe(true);
    for (const bad of [{ v: 1, acks: [] }, { v: 1, acks: [{ ...error, status: 'ok' }] }, { v: 1, acks: [error], extra: 1 }, { v: 2, acks: [error] }, [error]]) {
      expect(decodePayload(TxAcks, JSON.stringify(bad)).ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('takes several transactions in one message, each a whole transaction, at least one', () => {
    const first = validTx();
    expect(decodePayload(DeviceTransactions, JSON.stringify({ v: 1, txs: [first, { ...first, txId: newId(), seq: 2 }] })).ok).toBe(true);
    for (const bad of [{ v: 1, txs: [] }, { v: 1, txs: [{ ...first, seq: 0 }] }, { v: 1, txs: [first], more: true }, [first]]) {
      expect(decodePayload(DeviceTransactions, JSON.stringify(bad)).ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('gathers encoded items into messages within the payload limit and the item limit, in order, each decodable', () => {
    const txs = Array.from({ length: 120 }, (_, i) => ({ ...validTx(), seq: i + 1 }));
    const messages = envelopesWithinPayloadLimit('txs', txs.map((tx) => JSON.stringify(tx)), 50);
    expect(messages.length).toBeGreaterThan(2);
    const decoded = messages.map((message) => {
      expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      const result = decodePayload(DeviceTransactions, message);
      if (!result.ok) throw new Error(result.reason);
      expect(result.value.txs.length).toBeLessThanOrEqual(50);
      return result.value.txs;
    });
    expect(decoded.flat().map((tx) => tx.seq)).toEqual(txs.map((tx) => tx.seq));
    expect(envelopesWithinPayloadLimit('acks', ['{"a":1}', '{"b":2}'], 1)).toEqual(['{"v":1,"acks":[{"a":1}]}', '{"v":1,"acks":[{"b":2}]}']);
  });

  it('refuses a device message with a control character in any text, naming where', () => {
    const status = { v: 1, deviceId: 'k1', state: 'online', at: new Date().toISOString(), softwareVersion: '1.0\u0000' };
    expect(decodePayload(DeviceStatus, JSON.stringify(status))).toEqual({ ok: false, reason: '/softwareVersion: text must not contain control characters' });
    expect(decodePayload(DeviceStatus, JSON.stringify({ ...status, softwareVersion: '1.0\t(beta)' })).ok).toBe(true);
  });

  it('lets a device status ask for batched acks, as a boolean only', () => {
    const status = { v: 1, deviceId: 'k1', state: 'online', at: new Date().toISOString() };
    expect(decodePayload(DeviceStatus, JSON.stringify(status)).ok).toBe(true);
    expect(decodePayload(DeviceStatus, JSON.stringify({ ...status, batchedAcks: true })).ok).toBe(true);
    expect(decodePayload(DeviceStatus, JSON.stringify({ ...status, batchedAcks: 'yes' })).ok).toBe(false);
  });
});

describe('card lookup request', () => {
  const base = () => ({ v: 1, correlationId: newId() });

  it.each([
    ['an NFC card UID', { cardUid: '04A22B1C' }],
    ['a card number', { cardNumber: '6200123412345678' }],
  ])('accepts a lookup by %s', (_label, key) => {
    const request = { ...base(), ...key };
    expect(decodePayload(CardLookupRequest, JSON.stringify(request))).toEqual({ ok: true, value: request });
  });

  it.each([
    ['both keys', { cardUid: '04A22B1C', cardNumber: '6200123412345678' }],
    ['neither key', {}],
    ['a 15-digit number', { cardNumber: '620012341234567' }],
    ['a number with spaces', { cardNumber: '6200 1234 1234 5678' }],
    ['a number as a JSON number', { cardNumber: 6200123412345678 }],
    ['a number with a letter', { cardNumber: '6200A23412345678' }],
    ['a bad card UID', { cardUid: 'xyz' }],
    ['an extra field', { cardNumber: '6200123412345678', memberId: newId() }],
  ])('rejects %s', (_label, key) => {
    expect(decodePayload(CardLookupRequest, JSON.stringify({ ...base(), ...key })).ok).toBe(false);
  });
});

describe('member snapshot', () => {
  const snapshot = memberSnapshot({ memberId: newId(), displayName: 'Li Lei', balances: { principalFen: 0, bonusFen: 0, points: 0 }, version: 1 });

  it('carries the card number only when the card has a well-formed one', () => {
    expect(decodePayload(MemberSnapshot, JSON.stringify(snapshot)).ok).toBe(true);
    expect(decodePayload(MemberSnapshot, JSON.stringify({ ...snapshot, cardNumber: '6200123412345678' })).ok).toBe(true);
    const bad = decodePayload(MemberSnapshot, JSON.stringify({ ...snapshot, cardNumber: '6200-1234' }));
    expect(bad).toMatchObject({ ok: false, reason: expect.stringContaining('/cardNumber') });
  });

  const notices = [
    { kind: 'tier_progress', zh: '再消费¥1200.00升级金卡', en: 'Spend ¥1200.00 more to reach Gold' },
    { kind: 'points_expiring', zh: '您有 300 积分将于 12月31日 到期', en: '300 points expire on 31 Dec' },
  ];

  it.each([
    ['without notices (an older hub, or an ack)', {}],
    ['with no notices', { notices: [] }],
    ['with notices', { notices }],
    ['with one notice of each kind', { notices: [...notices, { kind: 'tier_at_risk', zh: '再消费¥5000.00保级金卡（1月16日前）', en: 'Spend ¥5000.00 more by 16 Jan to keep Gold' }] }],
  ])('accepts a snapshot %s, in a lookup answer and a member update too', (_label, extra) => {
    const member = { ...snapshot, ...extra };
    expect(decodePayload(MemberSnapshot, JSON.stringify(member))).toEqual({ ok: true, value: member });
    expect(decodePayload(CardLookupResponse, JSON.stringify({ v: 1, correlationId: newId(), status: 'ok', data: member })).ok).toBe(true);
    expect(decodePayload(MemberUpdate, JSON.stringify({ v: 1, member })).ok).toBe(true);
  });

  it.each([
    ['an unknown kind', [{ ...notices[0], kind: 'birthday' }], '/notices/0/kind'],
    ['no English', [{ kind: 'tier_progress', zh: '再消费¥1200.00升级金卡' }], '/notices/0/en'],
    ['an empty text', [{ ...notices[0], zh: '' }], '/notices/0/zh'],
    ['a text too long for the screen', [{ ...notices[0], en: 'x'.repeat(201) }], '/notices/0/en'],
    ['an extra field', [{ ...notices[0], colour: 'red' }], '/notices/0'],
    ['more than one per kind allows', [...notices, ...notices], '/notices'],
    ['a notice as plain text', ['Spend more'], '/notices/0'],
    ['notices as an object', { tier_progress: notices[0] }, '/notices'],
  ])('refuses a snapshot whose notices have %s', (_label, bad, reasonPart) => {
    const decoded = decodePayload(MemberSnapshot, JSON.stringify({ ...snapshot, notices: bad }));
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringContaining(reasonPart) });
  });
});

describe('sync request', () => {
  it('carries the missing range', () => {
    expect(decodePayload(SyncRequest, '{"v":1,"fromSeq":4,"toSeq":7}')).toEqual({ ok: true, value: { v: 1, fromSeq: 4, toSeq: 7 } });
  });

  it.each([
    ['seq 0', { v: 1, fromSeq: 0, toSeq: 2 }],
    ['a fractional seq', { v: 1, fromSeq: 1.5, toSeq: 2 }],
    ['no end', { v: 1, fromSeq: 1 }],
    ['an extra field', { v: 1, fromSeq: 1, toSeq: 2, all: true }],
    ['another protocol version', { v: 2, fromSeq: 1, toSeq: 2 }],
  ])('rejects %s', (_label, payload) => {
    expect(decodePayload(SyncRequest, JSON.stringify(payload)).ok).toBe(false);
  });
});

describe('configuration', () => {
  const desired = () => ({
    v: 1,
    version: 3,
    config: {
      storeName: '一号店',
      receiptFooter: '',
      offlineLimits: { perTransactionFen: 50_000, perCardPerDayFen: 100_000, perKioskTotalFen: 500_000, maxOfflineHours: 24 },
    },
  });

  it('accepts a desired configuration', () => {
    expect(decodePayload(DesiredConfig, JSON.stringify(desired()))).toEqual({ ok: true, value: desired() });
  });

  it.each([
    ['version 0', (d: ReturnType<typeof desired>) => ({ ...d, version: 0 })],
    ['an empty store name', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, storeName: '' } })],
    ['a negative limit', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, offlineLimits: { ...d.config.offlineLimits, perKioskTotalFen: -1 } } })],
    ['a limit in yuan with decimals', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, offlineLimits: { ...d.config.offlineLimits, perTransactionFen: 99.5 } } })],
    ['more than a week offline', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, offlineLimits: { ...d.config.offlineLimits, maxOfflineHours: 169 } } })],
    ['a missing limit', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, offlineLimits: { perTransactionFen: 1 } } })],
    ['an unknown setting', (d: ReturnType<typeof desired>) => ({ ...d, config: { ...d.config, volume: 11 } })],
  ])('rejects %s, naming the field', (_label, change) => {
    const decoded = decodePayload(DesiredConfig, JSON.stringify(change(desired())));
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringMatching(/^\//) });
  });

  it('accepts applied and rejected reports; a rejection needs a reason', () => {
    expect(decodePayload(ConfigReported, '{"v":1,"status":"applied","version":3,"appliedVersion":3}').ok).toBe(true);
    expect(decodePayload(ConfigReported, '{"v":1,"status":"rejected","version":2,"appliedVersion":3,"reason":"stale"}').ok).toBe(true);
    expect(decodePayload(ConfigReported, '{"v":1,"status":"rejected","appliedVersion":0,"reason":"not JSON"}').ok).toBe(true);
    expect(decodePayload(ConfigReported, '{"v":1,"status":"rejected","version":2,"appliedVersion":3}').ok).toBe(false);
    expect(decodePayload(ConfigReported, '{"v":1,"status":"applied","appliedVersion":3}').ok).toBe(false);
    expect(decodePayload(ConfigReported, '{"v":1,"status":"applied","version":3,"appliedVersion":0}').ok).toBe(false);
  });
});

describe('sync and configuration topics', () => {
  it('builds and parses them', () => {
    expect(topics.sync('k1')).toBe('mk/v1/devices/k1/sync');
    expect(parseDeviceTopic(topics.config('k1'))).toEqual({ deviceId: 'k1', channel: 'config' });
    expect(parseDeviceTopic(topics.configReported('k1'))).toEqual({ deviceId: 'k1', channel: 'config/reported' });
    expect(parseDeviceTopic(topics.sync('k1'))).toEqual({ deviceId: 'k1', channel: 'sync' });
  });
});
