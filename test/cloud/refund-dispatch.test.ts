import { generateKeyPairSync } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseVoucherSigningKey } from '../../cloud/catalog/signing-key.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, refusal, useDatabases } from './support.ts';

const databases = useDatabases();
const voucherKey = parseVoucherSigningKey(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
const STORE = 'sh-xuhui';

/**
 * Every posted transaction belongs to the module that made it, and a refund — through the module's own route,
 * the generic `POST /transactions/:txId/refunds` or `Ledger.refund` — is handed to that module's reverser in
 * the refund's database transaction: the checkout, the voucher and the catalog coupon come back with the
 * money, or the whole refund is refused and nothing changes.
 */
describe.each(BACKENDS)('a refund goes to the module that owns the transaction, whatever the path, on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend), { voucherKey });
  const { send } = rest;
  let manager: string;
  let cashier: string;
  let hq: string;
  beforeAll(() => {
    ({ manager, cashier } = rest.org.tokens.xuhui);
    hq = rest.org.tokens.hq.manager;
  });

  const created = (reply: LightMyRequestResponse) => {
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json();
  };
  const codeOf = (reply: LightMyRequestResponse) => [reply.statusCode, reply.json().error?.code];
  const genericRefund = (txId: string, idempotencyKey = key('refund')) =>
    send('POST', `/transactions/${txId}/refunds`, manager, { idempotencyKey, reason: 'returned at the counter' });

  async function member({ storedFen = 0, points = 0 } = {}): Promise<string> {
    const { memberId } = created(await send('POST', '/members', manager, { name: 'Refund Ren' }));
    if (storedFen > 0) created(await send('POST', `/members/${memberId}/topups`, manager, { idempotencyKey: key(), amountFen: storedFen }));
    if (points > 0) created(await send('POST', `/members/${memberId}/points-adjustments`, manager, { idempotencyKey: key(), points, reason: 'test points' }));
    return memberId;
  }
  const balances = async (memberId: string) => (await send('GET', `/members/${memberId}`, manager)).json().balances;
  const stockOf = async (itemId: string) => (await send('GET', `/catalog/items/${itemId}`, hq)).json().stock;
  const couponStatus = async (memberId: string, code: string) =>
    (await send('GET', `/members/${memberId}/coupons`, manager)).json().coupons.find((c: { code: string }) => c.code === code).status;

  async function template(extra: object = {}): Promise<string> {
    const body = { nameZh: '满100减20', nameEn: '¥20 off ¥100', offer: { kind: 'amount_off', amountOffFen: 2_000 }, conditions: { minSpendFen: 10_000 }, reason: 'test', ...extra };
    return created(await send('POST', '/coupon-templates', hq, body)).templateId;
  }
  async function item(extra: object = {}): Promise<string> {
    const body = { kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 500 }, voucherValidDays: 30, stock: 5, reason: 'test', ...extra };
    return created(await send('POST', '/catalog/items', hq, body)).id;
  }
  const redeem = async (memberId: string, itemId: string) =>
    created(await send('POST', '/catalog/redemptions', cashier, { idempotencyKey: key('redeem'), memberId, itemId }));
  const pay = async (memberId: string, couponCode?: string) =>
    created(
      await send('POST', '/checkout', cashier, {
        idempotencyKey: key('sale'),
        memberId,
        storeId: STORE,
        lines: [{ sku: 'tea', category: 'food', unitPriceFen: 12_000, quantity: 1 }],
        ...(couponCode ? { couponCode } : {}),
        payment: { storedValueFen: couponCode ? 10_000 : 12_000 },
      }),
    ).receipt;

  it('a checkout refunded through the generic route: money back, the checkout marked refunded, its coupon usable again', async () => {
    const memberId = await member({ storedFen: 20_000 });
    const { coupon } = created(await send('POST', `/members/${memberId}/coupons`, cashier, { templateId: await template(), idempotencyKey: key(), reason: 'welcome' }));
    const receipt = await pay(memberId, coupon.code);
    expect(await couponStatus(memberId, coupon.code)).toBe('used');

    const refunded = await genericRefund(receipt.txId);
    expect(refunded.statusCode, refunded.body).toBe(201);
    expect((await balances(memberId)).principalFen).toBe(20_000);
    expect((await send('GET', `/checkout/${receipt.checkoutId}`, manager)).json()).toMatchObject({ refund: { refundTxId: refunded.json().txId } });
    expect(await couponStatus(memberId, coupon.code)).toBe('issued');
    // The checkout's own route sees it refunded: once is all.
    const again = await send('POST', `/checkout/${receipt.checkoutId}/refund`, manager, { idempotencyKey: key(), reason: 'again' });
    expect(codeOf(again)).toEqual([409, 'ALREADY_REFUNDED']);
    await expectLedgerConsistent(rest.db);
  });

  it('a checkout refunded through Ledger.refund (no route at all) takes its effects back the same way', async () => {
    const memberId = await member({ storedFen: 20_000 });
    const receipt = await pay(memberId);
    const result = await rest.services.ledger.refund({ originalTxId: receipt.txId, idempotencyKey: key(), actor: { type: 'system', id: 'refund-test' }, reason: 'test' });
    expect(result.replay).toBe(false);
    expect((await send('GET', `/checkout/${receipt.checkoutId}`, manager)).json().refund).toMatchObject({ refundTxId: result.txId });
  });

  it('a voucher redemption refunded through the generic route: points back, voucher refunded, unit back in stock; a used voucher refuses it, changing nothing', async () => {
    const itemId = await item();
    const memberId = await member({ points: 2_000 });
    const first = await redeem(memberId, itemId);
    expect(await stockOf(itemId)).toBe(4);
    const refunded = await genericRefund(first.txId);
    expect(refunded.statusCode, refunded.body).toBe(201);
    expect((await balances(memberId)).points).toBe(2_000);
    expect(await stockOf(itemId)).toBe(5);
    expect((await send('GET', `/vouchers/${first.voucher.code}`, manager)).json().status).toBe('refunded');

    const second = await redeem(memberId, itemId);
    const writtenOff = await send('POST', '/vouchers/write-offs', cashier, { voucher: second.voucher.code });
    expect(writtenOff.statusCode, writtenOff.body).toBe(200);
    const before = { balances: await balances(memberId), stock: await stockOf(itemId) };
    expect(codeOf(await genericRefund(second.txId))).toEqual([409, 'VOUCHER_ALREADY_USED']);
    expect({ balances: await balances(memberId), stock: await stockOf(itemId) }).toEqual(before);
    expect((await send('GET', `/vouchers/${second.voucher.code}`, manager)).json().status).toBe('written_off');
    await expectLedgerConsistent(rest.db);
  });

  it('a catalog coupon redemption refunded through the generic route voids the coupon; a used coupon refuses it, changing nothing', async () => {
    const itemId = await item({ kind: 'coupon', couponTemplateId: await template() });
    const memberId = await member({ storedFen: 20_000, points: 2_000 });
    const first = await redeem(memberId, itemId);
    const refunded = await genericRefund(first.txId);
    expect(refunded.statusCode, refunded.body).toBe(201);
    expect(await couponStatus(memberId, first.coupon.code)).toBe('voided');
    expect((await balances(memberId)).points).toBe(2_000);
    expect(await stockOf(itemId)).toBe(5);

    const second = await redeem(memberId, itemId);
    await pay(memberId, second.coupon.code);
    const before = { balances: await balances(memberId), stock: await stockOf(itemId) };
    expect(codeOf(await genericRefund(second.txId))).toEqual([409, 'COUPON_ALREADY_USED']);
    expect({ balances: await balances(memberId), stock: await stockOf(itemId), coupon: await couponStatus(memberId, second.coupon.code) }).toEqual({ ...before, coupon: 'used' });
    await expectLedgerConsistent(rest.db);
  });

  it('a points-exchange coupon is not sold back, through the route or Ledger.refund', async () => {
    const memberId = await member({ points: 2_000 });
    const bought = created(
      await send('POST', `/members/${memberId}/coupons`, cashier, { templateId: await template({ pointsCost: 500 }), idempotencyKey: key(), reason: 'exchange' }),
    );
    expect(codeOf(await genericRefund(bought.coupon.purchaseTxId))).toEqual([409, 'NOT_REFUNDABLE']);
    const direct = await refusal(rest.services.ledger.refund({ originalTxId: bought.coupon.purchaseTxId, idempotencyKey: key(), actor: { type: 'system', id: 'refund-test' }, reason: 'x' }));
    expect(direct.code).toBe('NOT_REFUNDABLE');
    expect((await balances(memberId)).points).toBe(1_500);
    expect(await couponStatus(memberId, bought.coupon.code)).toBe('issued');
  });
});

/**
 * The largest payment there is, twice: the tier follows in the payment's own transaction, and a 365-day spend
 * above one payment's limit is data, not an error — every answer tells the truth about the commit.
 */
describe.each(BACKENDS)('a ¥10,000,000 stored-value payment on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend));
  const { send } = rest;
  const MAX_FEN = 1_000_000_000;

  it('answers 201 with the tier already refreshed; the next one too; the tier answers 200', async () => {
    const manager = rest.org.tokens.xuhui.manager;
    const memberId: string = (await send('POST', '/members', manager, { name: 'Whale Wang' })).json().memberId;
    for (let i = 0; i < 2; i++) {
      const topUp = await send('POST', `/members/${memberId}/topups`, manager, { idempotencyKey: key(), amountFen: MAX_FEN });
      expect(topUp.statusCode, topUp.body).toBe(201);
    }
    for (const expectedSpend of [MAX_FEN, 2 * MAX_FEN]) {
      const paid = await send('POST', `/members/${memberId}/payments`, manager, { idempotencyKey: key(), amountFen: MAX_FEN });
      expect(paid.statusCode, paid.body).toBe(201);
      expect(paid.json().member.tier).toBe('diamond');
      const tier = await send('GET', `/members/${memberId}/tier`, manager);
      expect(tier.statusCode, tier.body).toBe(200);
      expect(tier.json()).toMatchObject({ tier: 'diamond', windowSpendFen: expectedSpend });
    }
    expect((await send('GET', `/members/${memberId}`, manager)).json().balances.principalFen).toBe(0);
    await expectLedgerConsistent(rest.db);
  });
});
