import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { payCheckout } from '../../cloud/checkout/checkout.ts';
import { RulesStore, type PublishedRules } from '../../cloud/program/rules-store.ts';
import type { CheckoutLine, Tenders } from '../../shared/rules/checkout.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, newCardUid, rowCounts, useDatabases } from './support.ts';

const databases = useDatabases();

interface Balances {
  principalFen: number;
  bonusFen: number;
  points: number;
}

describe.each(BACKENDS)('POS checkout over REST on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend));
  const { send } = rest;
  let cashier: string;
  let manager: string;
  const store = 'sh-xuhui';

  beforeAll(() => {
    cashier = rest.org.tokens.xuhui.cashier;
    manager = rest.org.tokens.xuhui.manager;
  });

  const balancesOf = async (memberId: string): Promise<Balances> => (await send('GET', `/members/${memberId}`, manager)).json().balances;

  /** A standard-tier member of the Xuhui store with `topUpFen` of stored value and `points` points. */
  async function member({ topUpFen = 0, points = 0 } = {}): Promise<string> {
    const created = await send('POST', '/members', manager, { name: 'Checkout Chen' });
    expect(created.statusCode).toBe(201);
    const memberId: string = created.json().memberId;
    if (topUpFen > 0) expect((await send('POST', `/members/${memberId}/topups`, manager, { idempotencyKey: key(), amountFen: topUpFen })).statusCode).toBe(201);
    if (points > 0) {
      const granted = await send('POST', `/members/${memberId}/points-adjustments`, manager, { idempotencyKey: key(), points, reason: 'test points' });
      expect(granted.statusCode).toBe(201);
    }
    return memberId;
  }

  async function couponFor(memberId: string, template: object): Promise<string> {
    const created = await send('POST', '/coupon-templates', rest.org.tokens.hq.manager, { ...template, reason: 'test coupon' });
    expect(created.statusCode, created.body).toBe(201);
    const issued = await send('POST', `/members/${memberId}/coupons`, cashier, {
      templateId: created.json().templateId,
      idempotencyKey: key('issue'),
      reason: 'welcome',
    });
    expect(issued.statusCode, issued.body).toBe(201);
    return issued.json().coupon.code;
  }
  const manJian = { nameZh: '满100减20', nameEn: '¥20 off ¥100', offer: { kind: 'amount_off', amountOffFen: 2_000 }, conditions: { minSpendFen: 10_000 } };
  const food = (unitPriceFen: number, quantity = 1) => ({ sku: `food-${unitPriceFen}`, category: 'food', unitPriceFen, quantity });

  it('quotes a basket without changing anything', async () => {
    const memberId = await member({ points: 1_000 });
    const code = await couponFor(memberId, manJian);
    const before = await rowCounts(rest.db);
    const quote = await send('POST', '/checkout/quote', cashier, {
      memberId,
      storeId: store,
      lines: [food(6_000), food(2_500, 2)],
      couponCode: code.toLowerCase(),
      payment: { pointsFen: 1_000, cashFen: 8_000 },
    });
    expect(quote.statusCode, quote.body).toBe(200);
    expect(quote.json()).toMatchObject({
      tier: 'standard',
      rulesVersion: 1,
      price: { subtotalFen: 11_000, tierDiscountFen: 0, couponDiscountFen: 2_000, payableFen: 9_000, coupon: { applies: true, discountFen: 2_000 } },
      coupon: { code, label: { zh: '满100减20' } },
      pointsPerYuan: 100,
      maxPointsFen: 1_000,
      payment: { pointsFen: 1_000, pointsSpent: 1_000, cashFen: 8_000, moneyFen: 8_000 },
      pointsEarned: 0,
    });
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  it.each([
    // [label, top-up, points, basket lines, payment, expected change in principal / points, points earned]
    ['cash only, nothing earned: no ledger transaction', 0, 0, [food(5_000)], { cashFen: 5_000 }, 0, 0, 0, false],
    ['cash only, ¥200 earns 25 points', 0, 0, [food(20_000)], { cashFen: 20_000 }, 0, 25, 25, true],
    ['stored value only', 30_000, 0, [food(12_000)], { storedValueFen: 12_000 }, -12_000, 10, 10, true],
    ['points only: nothing earned', 0, 5_000, [food(3_000)], { pointsFen: 3_000 }, 0, -3_000, 0, true],
    ['points + stored value + cash', 10_000, 2_000, [food(25_000)], { pointsFen: 1_500, storedValueFen: 10_000, cashFen: 13_500 }, -10_000, -1_500 + 25, 25, true],
  ] as const)('%s', async (_label, topUpFen, points, lines, payment, principalChange, pointsChange, earned, hasTx) => {
    const memberId = await member({ topUpFen, points });
    const before = await balancesOf(memberId);
    const paid = await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines, payment });
    expect(paid.statusCode, paid.body).toBe(201);
    const { receipt, replay, member: after } = paid.json();
    expect(replay).toBe(false);
    expect(receipt.pointsEarned).toBe(earned);
    expect(receipt.txId === null).toBe(!hasTx);
    expect(receipt.payment.storedValuePrincipalFen + receipt.payment.storedValueBonusFen).toBe((payment as { storedValueFen?: number }).storedValueFen ?? 0);
    expect(after.balances.principalFen - before.principalFen).toBe(principalChange);
    expect(after.balances.points - before.points).toBe(pointsChange);
    expect(await balancesOf(memberId)).toEqual(after.balances);
    expect((await send('GET', `/checkout/${receipt.checkoutId}`, cashier)).json()).toEqual(receipt);
    await expectLedgerConsistent(rest.db);
  });

  it('is idempotent: the same request replays, another request under the same key is refused', async () => {
    const memberId = await member({ topUpFen: 20_000 });
    const body = { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(4_000)], payment: { storedValueFen: 4_000 } };
    const first = await send('POST', '/checkout', cashier, body);
    expect(first.statusCode).toBe(201);
    const again = await send('POST', '/checkout', cashier, body);
    expect(again.statusCode).toBe(200);
    expect(again.json().replay).toBe(true);
    expect(again.json().receipt).toEqual(first.json().receipt);
    expect((await balancesOf(memberId)).principalFen).toBe(16_000);
    const other = await send('POST', '/checkout', cashier, { ...body, lines: [food(3_000)], payment: { storedValueFen: 3_000 } });
    expect(other.statusCode).toBe(409);
    expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await balancesOf(memberId)).principalFen).toBe(16_000);
  });

  it('refunds every effect exactly once: stored value, points spent and earned, the coupon', async () => {
    const memberId = await member({ topUpFen: 30_000, points: 1_000 });
    const code = await couponFor(memberId, manJian);
    const before = await balancesOf(memberId);
    const paid = await send('POST', '/checkout', cashier, {
      idempotencyKey: key('co'),
      memberId,
      storeId: store,
      lines: [food(22_000)],
      couponCode: code,
      payment: { pointsFen: 1_000, storedValueFen: 19_000 },
    });
    expect(paid.statusCode, paid.body).toBe(201);
    const { receipt } = paid.json();
    expect(receipt).toMatchObject({ pointsEarned: 10, coupon: { code, discountFen: 2_000 }, price: { payableFen: 20_000 } });
    const coupons = async () => (await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons;
    expect((await coupons())[0]).toMatchObject({ status: 'used', usedInCheckoutId: receipt.checkoutId });

    const refundKey = key('refund');
    const refunded = await send('POST', `/checkout/${receipt.checkoutId}/refund`, manager, { idempotencyKey: refundKey, reason: 'customer returned it' });
    expect(refunded.statusCode, refunded.body).toBe(201);
    expect(refunded.json().receipt.refund).toMatchObject({ refundTxId: expect.any(String) });
    expect(refunded.json().member.balances).toEqual(before);
    expect((await coupons())[0]).toMatchObject({ status: 'issued' });
    expect((await coupons())[0].usedInCheckoutId).toBeUndefined();

    const replay = await send('POST', `/checkout/${receipt.checkoutId}/refund`, manager, { idempotencyKey: refundKey, reason: 'customer returned it' });
    expect(replay.statusCode).toBe(200);
    const twice = await send('POST', `/checkout/${receipt.checkoutId}/refund`, manager, { idempotencyKey: key('refund'), reason: 'again' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe('ALREADY_REFUNDED');
    expect(await balancesOf(memberId)).toEqual(before);
    await expectLedgerConsistent(rest.db);

    // The coupon is usable again.
    const reuse = await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(10_000)], couponCode: code, payment: { cashFen: 8_000 } });
    expect(reuse.statusCode, reuse.body).toBe(201);
  });

  it('refunds a cash-only sale that moved no member value, once', async () => {
    const memberId = await member();
    const paid = (await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(500)], payment: { cashFen: 500 } })).json();
    expect(paid.receipt.txId).toBeNull();
    const refunded = await send('POST', `/checkout/${paid.receipt.checkoutId}/refund`, manager, { idempotencyKey: key('refund'), reason: 'wrong item' });
    expect(refunded.statusCode).toBe(201);
    expect(refunded.json().receipt.refund).toMatchObject({ refundTxId: null });
    const twice = await send('POST', `/checkout/${paid.receipt.checkoutId}/refund`, manager, { idempotencyKey: key('refund'), reason: 'again' });
    expect(twice.json().error.code).toBe('ALREADY_REFUNDED');
  });

  it('refuses a coupon that does not apply, in both languages, and changes nothing', async () => {
    const memberId = await member({ topUpFen: 10_000 });
    const code = await couponFor(memberId, manJian);
    const before = await rowCounts(rest.db);
    const refused = await send('POST', '/checkout', cashier, {
      idempotencyKey: key('co'),
      memberId,
      storeId: store,
      lines: [food(9_999)],
      couponCode: code,
      payment: { storedValueFen: 9_999 },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toEqual({ code: 'COUPON_NOT_APPLICABLE', message: '再消费¥0.01可用此券 / Spend ¥0.01 more to use this coupon' });
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  it('refuses bad bodies with 400 and changes nothing', async () => {
    const memberId = await member({ topUpFen: 10_000, points: 100 });
    const good = { memberId, storeId: store, lines: [food(1_000)], payment: { storedValueFen: 1_000 } };
    const cases: Array<[string, object, string]> = [
      ['parts do not sum to payable', { payment: { storedValueFen: 999 } }, 'INVALID_INPUT'],
      ['parts exceed payable', { payment: { storedValueFen: 1_000, cashFen: 1 } }, 'INVALID_INPUT'],
      ['quantity 0', { lines: [food(1_000, 0)] }, 'VALIDATION_FAILED'],
      ['fractional price', { lines: [food(10.5)] }, 'VALIDATION_FAILED'],
      ['price as text', { lines: [{ ...food(1_000), unitPriceFen: '1000' }] }, 'VALIDATION_FAILED'],
      ['negative cash', { payment: { cashFen: -1, storedValueFen: 1_001 } }, 'VALIDATION_FAILED'],
      ['no lines', { lines: [] }, 'VALIDATION_FAILED'],
      ['unknown field', { discount: 100 }, 'VALIDATION_FAILED'],
      ['occurredAt without offset', { occurredAt: '2026-06-01T10:00:00' }, 'INVALID_INPUT'],
      ['a line total over the limit', { lines: [food(1_000_000_000, 2)], payment: { cashFen: 1 } }, 'INVALID_AMOUNT'],
    ];
    for (const [label, change, code] of cases) {
      const before = await rowCounts(rest.db);
      const response = await send('POST', '/checkout', cashier, { idempotencyKey: key('bad'), ...good, ...change });
      expect(response.statusCode, label).toBe(400);
      expect(response.json().error.code, label).toBe(code);
      expect(await rowCounts(rest.db), label).toEqual(before);
    }
    expect((await rest.db.query('SELECT count(*)::int AS n FROM checkouts WHERE member_id = $1', [memberId])).rows[0]).toEqual({ n: 0 });
  });

  it('refuses with 409 when stored value or points do not cover the payment, changing nothing', async () => {
    const memberId = await member({ topUpFen: 1_000, points: 100 });
    const code = await couponFor(memberId, { ...manJian, conditions: {} });
    const before = await rowCounts(rest.db);
    for (const [payment, error] of [
      [{ storedValueFen: 1_001 }, 'INSUFFICIENT_BALANCE'],
      [{ pointsFen: 101, storedValueFen: 900 }, 'INSUFFICIENT_POINTS'],
    ] as const) {
      const response = await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(3_001)], couponCode: code, payment });
      expect(response.statusCode).toBe(409);
      expect(response.json().error.code).toBe(error);
    }
    expect(await rowCounts(rest.db)).toEqual(before);
    expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons[0].status).toBe('issued');
  });

  it('refuses a card that may not pay, or is not the member’s, changing nothing', async () => {
    const memberId = await member({ topUpFen: 5_000 });
    const cardUid = newCardUid();
    expect((await send('POST', `/members/${memberId}/cards`, manager, { cardUid })).statusCode).toBe(201);
    const otherCard = newCardUid();
    expect((await send('POST', `/members/${await member()}/cards`, manager, { cardUid: otherCard })).statusCode).toBe(201);
    const pay = (card: string) =>
      send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(1_000)], payment: { storedValueFen: 1_000 }, cardUid: card });
    const before = await rowCounts(rest.db);
    const notTheirs = await pay(otherCard);
    expect([notTheirs.statusCode, notTheirs.json().error.code]).toEqual([404, 'CARD_NOT_FOUND']);
    const malformed = await pay('12');
    expect([malformed.statusCode, malformed.json().error.code]).toEqual([400, 'INVALID_CARD_UID']);
    const lost = await send('POST', `/cards/${cardUid}/loss`, manager, { idempotencyKey: key('loss'), reason: 'lost at the till' });
    expect(lost.statusCode, lost.body).toBe(201);
    const refused = await pay(cardUid);
    expect([refused.statusCode, refused.json().error]).toEqual([409, { code: 'CARD_LOST', message: '此卡已挂失，请联系门店 / This card is reported lost, please ask staff' }]);
    expect(await rowCounts(rest.db)).toEqual(before);
    expect((await balancesOf(memberId)).principalFen).toBe(5_000);
  });

  it('answers an unknown checkout with 404 in both languages', async () => {
    const unknown = '01900000-0000-7000-8000-000000000000';
    for (const reply of [
      await send('GET', `/checkout/${unknown}`, cashier),
      await send('POST', `/checkout/${unknown}/refund`, manager, { idempotencyKey: key('r'), reason: 'no such sale' }),
    ]) {
      expect([reply.statusCode, reply.json().error]).toEqual([404, { code: 'NOT_FOUND', message: `没有编号为 ${unknown} 的结账记录 / No checkout has the id ${unknown}` }]);
    }
    const badInstant = await send('POST', '/checkout/quote', cashier, { memberId: await member(), storeId: store, lines: [food(100)], occurredAt: 'yesterday' });
    expect([badInstant.statusCode, badInstant.json().error.message]).toEqual([
      400,
      'occurredAt 须为带时区的 ISO 时间，例如 2026-06-01T10:00:00+08:00 / occurredAt must be an ISO timestamp with an offset, e.g. 2026-06-01T10:00:00+08:00',
    ]);
  });

  it('sells only at stores in the operator’s scope, and refunds only for managers', async () => {
    const memberId = await member({ topUpFen: 1_000 });
    const body = { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(100)], payment: { storedValueFen: 100 } };
    expect((await send('POST', '/checkout', rest.org.tokens.jingan.cashier, body)).statusCode).toBe(403);
    expect((await send('POST', '/checkout/quote', rest.org.tokens.south.manager, { ...body, idempotencyKey: undefined })).statusCode).toBe(403);
    const paid = await send('POST', '/checkout', rest.org.tokens.east.cashier, body);
    expect(paid.statusCode).toBe(201);
    const checkoutId = paid.json().receipt.checkoutId;
    expect((await send('GET', `/checkout/${checkoutId}`, rest.org.tokens.tianhe.cashier)).statusCode).toBe(403);
    expect((await send('POST', `/checkout/${checkoutId}/refund`, cashier, { idempotencyKey: key('r'), reason: 'no' })).statusCode).toBe(403);
    expect((await send('POST', '/checkout', rest.org.tokens.hq.technician, { ...body, idempotencyKey: key('co') })).statusCode).toBe(403);
  });

  it('uses a coupon exactly once when several checkouts race with it', async () => {
    const memberId = await member({ topUpFen: 100_000 });
    const code = await couponFor(memberId, manJian);
    const attempts = await Promise.all(
      Array.from({ length: 6 }, () =>
        send('POST', '/checkout', cashier, { idempotencyKey: key('race'), memberId, storeId: store, lines: [food(10_000)], couponCode: code, payment: { storedValueFen: 8_000 } }),
      ),
    );
    const statuses = attempts.map((a) => a.statusCode).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const refused of attempts.filter((a) => a.statusCode === 409)) {
      expect(['COUPON_ALREADY_USED']).toContain(refused.json().error.code);
    }
    expect((await balancesOf(memberId)).principalFen).toBe(92_000);
    const { rows } = await rest.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM checkouts WHERE member_id = $1`, [memberId]);
    expect(rows[0]!.n).toBe(1);
    await expectLedgerConsistent(rest.db);
  });

  it('counts the sale towards the tier: ¥1,000 in cash lifts a standard member to silver at once', async () => {
    const memberId = await member();
    const paid = await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(100_000)], payment: { cashFen: 100_000 } });
    expect(paid.statusCode, paid.body).toBe(201);
    expect(paid.json().member.tier).toBe('silver');
    // The next basket gets the silver discount (2%).
    const quote = await send('POST', '/checkout/quote', cashier, { memberId, storeId: store, lines: [food(10_000)] });
    expect(quote.json()).toMatchObject({ tier: 'silver', price: { tierDiscountFen: 200, payableFen: 9_800 } });
  });

  it('cuts the points earned to what the member’s daily budget still allows', async () => {
    const store_ = new RulesStore(rest.db);
    const current = await store_.current();
    const tight = { ...current, rules: { ...current.rules, budgets: { ...current.rules.budgets, caps: [{ scope: 'member', direction: 'earn', period: 'day', limitPoints: 30 }] } } } as PublishedRules;
    const memberId = await member();
    const pay = (idempotencyKey: string) =>
      payCheckout({ ...rest.services, rules: { current: async () => tight } }, {
        idempotencyKey,
        memberId,
        storeId: store,
        lines: [food(20_000)],
        payment: { cashFen: 20_000 },
        actor: { type: 'operator', id: rest.org.operatorIds.xuhui.cashier },
      });
    const first = await pay(key('co'));
    expect(first.receipt).toMatchObject({ pointsEarned: 25, pointsCutByBudget: 0 });
    const second = await pay(key('co'));
    expect(second.receipt).toMatchObject({ pointsEarned: 5, pointsCutByBudget: 20 });
    const third = await pay(key('co'));
    expect(third.receipt).toMatchObject({ pointsEarned: 0, pointsCutByBudget: 25, txId: null });
    expect(third.member.balances.points).toBe(30);
    await expectLedgerConsistent(rest.db);
  });

  /** The current rules with some sections changed (not published: handed to payCheckout directly). */
  async function rulesWith(change: (rules: PublishedRules['rules']) => Partial<PublishedRules['rules']>): Promise<PublishedRules> {
    const current = await new RulesStore(rest.db).current();
    return { ...current, rules: { ...current.rules, ...change(current.rules) } };
  }
  /** A category that earns no points, so a cash sale of it posts no ledger transaction. */
  const noPointsForGifts = (rules: PublishedRules['rules']) => ({ earning: { ...rules.earning, categoryBrackets: { gift: [] } } });
  const gift = (unitPriceFen: number) => ({ sku: `gift-${unitPriceFen}`, category: 'gift', unitPriceFen, quantity: 1 });
  const cashierActor = () => ({ type: 'operator' as const, id: rest.org.operatorIds.xuhui.cashier });
  const windowSpend = async (memberId: string) => (await send('GET', `/members/${memberId}/tier`, manager)).json().windowSpendFen;

  it.each([
    // [label, top-up, points, lines, payment, has a ledger transaction]
    ['cash only, no points earned (no ledger transaction)', 0, 0, [gift(100_000)], { cashFen: 100_000 }, false],
    ['cash that earns points', 0, 0, [food(100_000)], { cashFen: 100_000 }, true],
    ['stored value + cash', 60_000, 0, [food(100_000)], { storedValueFen: 40_000, cashFen: 60_000 }, true],
    ['points + cash: the points part is not spend', 0, 5_000, [gift(105_000)], { pointsFen: 5_000, cashFen: 100_000 }, true],
  ] as const)('every sale counts towards the tier at once, until refunded: %s', async (_label, topUpFen, points, lines, payment, hasTx) => {
    const program = await rulesWith(noPointsForGifts);
    const memberId = await member({ topUpFen, points });
    const paid = await payCheckout({ ...rest.services, rules: { current: async () => program } }, { idempotencyKey: key('co'), memberId, storeId: store, lines: [...lines], payment, actor: cashierActor() });
    expect(paid.receipt.txId !== null).toBe(hasTx);
    expect(paid.member.tier).toBe('silver');
    expect(await windowSpend(memberId)).toBe(100_000);
    const { rows } = await rest.db.query<{ outcome: string; to_tier: string; window_spend_fen: string | number }>(
      'SELECT outcome, to_tier, window_spend_fen FROM member_tier_changes WHERE member_id = $1', [memberId],
    );
    expect(rows.map((r) => [r.outcome, r.to_tier, Number(r.window_spend_fen)])).toEqual([['upgraded', 'silver', 100_000]]);

    const refund = (idempotencyKey: string) => send('POST', `/checkout/${paid.receipt.checkoutId}/refund`, manager, { idempotencyKey, reason: 'returned' });
    expect((await refund(key('refund'))).statusCode).toBe(201);
    expect(await windowSpend(memberId)).toBe(0);
    expect((await refund(key('refund'))).json().error.code).toBe('ALREADY_REFUNDED');
    expect(await windowSpend(memberId)).toBe(0);
    // A refund never lowers the tier at once: the periodic review does.
    expect((await send('GET', `/members/${memberId}/tier`, manager)).json().tier).toBe('silver');
    await expectLedgerConsistent(rest.db);
  });

  it('migration 012 backfills the qualifying spend of earlier sales as checkout records it now', async () => {
    const program = await rulesWith(noPointsForGifts);
    const memberId = await member({ topUpFen: 30_000 });
    const pay = (lines: CheckoutLine[], payment: Tenders) =>
      payCheckout({ ...rest.services, rules: { current: async () => program } }, { idempotencyKey: key('co'), memberId, storeId: store, lines, payment, actor: cashierActor() });
    await pay([gift(30_000)], { cashFen: 30_000 }); // no ledger transaction
    await pay([food(30_000)], { storedValueFen: 20_000, cashFen: 10_000 });
    await pay([food(5_000)], { storedValueFen: 5_000 });
    const refunded = await pay([gift(40_000)], { cashFen: 40_000 });
    expect((await send('POST', `/checkout/${refunded.receipt.checkoutId}/refund`, manager, { idempotencyKey: key('refund'), reason: 'returned' })).statusCode).toBe(201);
    const rows = async () =>
      (await rest.db.query('SELECT member_id, tx_id, checkout_id, amount_fen::int, at FROM qualifying_spend WHERE member_id = $1 ORDER BY checkout_id', [memberId])).rows;
    const recorded = await rows();
    expect(recorded).toHaveLength(4);
    expect(await windowSpend(memberId)).toBe(65_000);

    // What the code before 012 had written: cash only, and only for sales with a ledger transaction.
    await rest.db.query('DELETE FROM qualifying_spend WHERE member_id = $1', [memberId]);
    await rest.db.query(
      `INSERT INTO qualifying_spend (member_id, tx_id, amount_fen, at)
       SELECT member_id, tx_id, (payment ->> 'cashFen')::bigint, occurred_at FROM checkouts
        WHERE member_id = $1 AND tx_id IS NOT NULL AND (payment ->> 'cashFen')::bigint > 0`,
      [memberId],
    );
    const migration = await readFile(new URL('../../cloud/db/migrations/012_refund_budget_and_cash_spend.sql', import.meta.url), 'utf8');
    await rest.db.exec(migration.slice(migration.indexOf('-- Existing sales')));
    // …and what 016 does to them: a refunded sale's spend is cancelled on its row.
    const owners = await readFile(new URL('../../cloud/db/migrations/016_owners_and_idempotency.sql', import.meta.url), 'utf8');
    await rest.db.exec(owners.slice(owners.indexOf('UPDATE qualifying_spend')));
    expect(await rows()).toEqual(recorded);
    expect(await windowSpend(memberId)).toBe(65_000);
  });

  it('a refund gives the points budgets back what the sale used, in the period of the sale, exactly once', async () => {
    const program = await rulesWith(() => ({
      budgets: {
        timeZone: 'Asia/Shanghai',
        caps: [
          { scope: 'member', direction: 'earn', period: 'day', limitPoints: 100 },
          { scope: 'member', direction: 'spend', period: 'day', limitPoints: 1_000 },
          { scope: 'store', direction: 'earn', period: 'month', limitPoints: 10_000 },
        ],
        alertPercents: [],
      },
    }));
    const memberId = await member({ points: 2_000 });
    // 23:30 on 31 March in Shanghai: the member's day is 2026-03-31, the store's month 2026-03 (UTC is still in the 31st too).
    const sale = () =>
      payCheckout({ ...rest.services, rules: { current: async () => program } }, {
        idempotencyKey: key('co'), memberId, storeId: store, occurredAt: '2026-03-31T23:30:00+08:00',
        lines: [food(20_500)], payment: { pointsFen: 500, cashFen: 20_000 }, actor: cashierActor(),
      });
    const usage = async () =>
      Object.fromEntries(
        (await rest.db.query<{ scope: string; direction: string; period_key: string; used: string | number }>(
          `SELECT scope, direction, period_key, used FROM points_budget_usage
            WHERE (scope = 'member' AND subject_id = $1) OR (scope = 'store' AND subject_id = $2 AND period_key = '2026-03')`,
          [memberId, store],
        )).rows.map((r) => [`${r.scope} ${r.direction} ${r.period_key}`, Number(r.used)]),
      );
    const storeBefore = (await usage())['store earn 2026-03'] ?? 0;
    const first = await sale();
    await sale();
    expect(first.receipt).toMatchObject({ pointsEarned: 25, payment: { pointsSpent: 500 } });
    expect(await usage()).toEqual({ 'member earn 2026-03-31': 50, 'member spend 2026-03-31': 1_000, 'store earn 2026-03': storeBefore + 50 });

    const refund = (idempotencyKey: string) => send('POST', `/checkout/${first.receipt.checkoutId}/refund`, manager, { idempotencyKey, reason: 'returned' });
    const refundKey = key('refund');
    expect((await refund(refundKey)).statusCode).toBe(201);
    const afterRefund = { 'member earn 2026-03-31': 25, 'member spend 2026-03-31': 500, 'store earn 2026-03': storeBefore + 25 };
    expect(await usage()).toEqual(afterRefund); // nothing in the refund's own period
    expect((await refund(refundKey)).statusCode).toBe(200);
    expect((await refund(key('refund'))).json().error.code).toBe('ALREADY_REFUNDED');
    expect(await usage()).toEqual(afterRefund);
    // The released spend allowance is usable again that day.
    expect((await sale()).receipt.payment.pointsSpent).toBe(500);
    await expectLedgerConsistent(rest.db);
  });

  it('documents every route in OpenAPI', async () => {
    const spec = (await rest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const [path, method] of [
      ['/api/v1/checkout/quote', 'post'],
      ['/api/v1/checkout', 'post'],
      ['/api/v1/checkout/{checkoutId}', 'get'],
      ['/api/v1/checkout/{checkoutId}/refund', 'post'],
    ] as const) {
      const operation = spec.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.tags).toEqual(['checkout']);
      expect(operation.summary).toBeTruthy();
    }
    const codes = (path: string, method: string, status: number): string[] =>
      spec.paths[path][method].responses[String(status)].content['application/json'].schema.properties.error.properties.code.enum;
    expect(codes('/api/v1/checkout', 'post', 409)).toEqual(
      expect.arrayContaining(['COUPON_NOT_APPLICABLE', 'COUPON_ALREADY_USED', 'INSUFFICIENT_BALANCE', 'INSUFFICIENT_POINTS', 'BUDGET_EXCEEDED', 'IDEMPOTENCY_CONFLICT', 'CARD_LOST', 'CARD_FROZEN']),
    );
    expect(codes('/api/v1/checkout', 'post', 404)).toEqual(expect.arrayContaining(['MEMBER_NOT_FOUND', 'STORE_NOT_FOUND', 'COUPON_NOT_FOUND', 'CARD_NOT_FOUND']));
    expect(codes('/api/v1/checkout/{checkoutId}/refund', 'post', 409)).toEqual(expect.arrayContaining(['ALREADY_REFUNDED', 'NOT_REFUNDABLE', 'IDEMPOTENCY_CONFLICT']));
    expect(codes('/api/v1/checkout/{checkoutId}', 'get', 404)).toEqual(['NOT_FOUND']);
  });

  it('refuses points past a published spend cap over REST: 409 BUDGET_EXCEEDED, nothing changed', async () => {
    const admin = rest.org.tokens.hq.admin;
    const published = (await send('GET', '/program/rules', admin)).json().rules;
    const spendCap = { scope: 'member', direction: 'spend', period: 'day', limitPoints: 100 };
    const capped = { ...published, budgets: { ...published.budgets, caps: [...published.budgets.caps, spendCap] } };
    expect((await send('PUT', '/program/rules', admin, { rules: capped, reason: 'daily spend cap' })).statusCode).toBe(201);
    try {
      const memberId = await member({ points: 1_000 });
      const before = await rowCounts(rest.db);
      const refused = await send('POST', '/checkout', cashier, { idempotencyKey: key('co'), memberId, storeId: store, lines: [food(200)], payment: { pointsFen: 200 } });
      expect([refused.statusCode, refused.json().error]).toEqual([
        409,
        { code: 'BUDGET_EXCEEDED', message: '积分使用额度不足，本次未作任何更改 / The points spending budget does not allow this many points now; nothing was changed' },
      ]);
      expect(await rowCounts(rest.db)).toEqual(before);
    } finally {
      expect((await send('PUT', '/program/rules', admin, { rules: published, reason: 'spend cap lifted' })).statusCode).toBe(201);
    }
  });
});
