import { beforeAll, describe, expect, it } from 'vitest';
import { couponHistory } from '../../cloud/coupons/audit.ts';
import { issueCoupon } from '../../cloud/coupons/coupons.ts';
import { issueToSegment } from '../../cloud/campaigns/targeted.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { expectLedgerConsistent, key, rowCounts, useDatabases } from './support.ts';

const databases = useDatabases();

const manJian = {
  nameZh: '满100减20',
  nameEn: '¥20 off ¥100',
  offer: { kind: 'amount_off', amountOffFen: 2_000 },
  conditions: { minSpendFen: 10_000 },
};

describe('coupons over REST on pglite', () => {
  const rest = useRestApi(() => databases.open('pglite'));
  const { send } = rest;
  let hq: string;
  let cashier: string;
  const store = 'sh-xuhui';

  beforeAll(() => {
    hq = rest.org.tokens.hq.manager;
    cashier = rest.org.tokens.xuhui.cashier;
  });

  async function member(homeStore: 'xuhui' | 'jingan' | 'tianhe' = 'xuhui', points = 0): Promise<string> {
    const token = rest.org.tokens[homeStore].manager;
    const memberId: string = (await send('POST', '/members', token, { name: 'Coupon Cao' })).json().memberId;
    if (points > 0) {
      expect((await send('POST', `/members/${memberId}/points-adjustments`, token, { idempotencyKey: key(), points, reason: 'test' })).statusCode).toBe(201);
    }
    return memberId;
  }
  async function template(body: object, token = hq): Promise<string> {
    const created = await send('POST', '/coupon-templates', token, { ...body, reason: 'spring campaign' });
    expect(created.statusCode, created.body).toBe(201);
    return created.json().templateId;
  }
  const issue = (memberId: string, templateId: string, idempotencyKey = key('issue'), token = cashier) =>
    send('POST', `/members/${memberId}/coupons`, token, { templateId, idempotencyKey, reason: 'welcome gift' });

  describe('templates', () => {
    it('are created, read, listed, changed and stopped, each change audited', async () => {
      const created = await send('POST', '/coupon-templates', hq, { ...manJian, reason: 'spring campaign' });
      expect(created.statusCode).toBe(201);
      const view = created.json();
      expect(view).toMatchObject({ ...manJian, label: { zh: '满100减20', en: '¥20 off on ¥100 or more' }, active: true, version: 1 });
      expect((await send('GET', `/coupon-templates/${view.templateId}`, cashier)).json()).toEqual(view);
      expect((await send('GET', '/coupon-templates', cashier)).json().templates.map((t: { templateId: string }) => t.templateId)).toContain(view.templateId);

      const changed = await send('PUT', `/coupon-templates/${view.templateId}`, hq, {
        definition: { ...manJian, offer: { kind: 'percent_off', percentOff: 15, maxDiscountFen: 3_000 } },
        reason: 'better offer',
      });
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.json()).toMatchObject({ version: 2, label: { zh: '满100享8.5折(最多减¥30)', en: '15% off on ¥100 or more (up to ¥30)' } });
      const stopped = await send('PUT', `/coupon-templates/${view.templateId}`, hq, { active: false, reason: 'campaign over' });
      expect(stopped.json()).toMatchObject({ active: false, version: 3 });
      const refused = await issue(await member(), view.templateId);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.code).toBe('COUPON_NOT_APPLICABLE');

      const { rows } = await rest.db.query<{ action: string; actor_id: string; reason: string }>(
        'SELECT action, actor_id, reason FROM coupon_audit WHERE template_id = $1 AND coupon_id IS NULL ORDER BY id',
        [view.templateId],
      );
      expect(rows).toEqual([
        { action: 'template_created', actor_id: rest.org.operatorIds.hq.manager, reason: 'spring campaign' },
        { action: 'template_updated', actor_id: rest.org.operatorIds.hq.manager, reason: 'better offer' },
        { action: 'template_updated', actor_id: rest.org.operatorIds.hq.manager, reason: 'campaign over' },
      ]);
    });

    it('refuse invalid definitions with every problem listed, changing nothing', async () => {
      const before = await rest.db.query('SELECT count(*)::int AS n FROM coupon_templates');
      const cases: Array<[object, number, RegExp]> = [
        [{ ...manJian, conditions: { validFrom: '2026-07-01T00:00:00Z', validUntil: '2026-06-01T00:00:00Z' } }, 400, /validFrom must be before validUntil/],
        [{ ...manJian, conditions: { validUntil: '2026-07-01' } }, 400, /not an ISO timestamp/],
        [{ ...manJian, offer: { kind: 'percent_off', percentOff: 101 } }, 400, /offer/],
        [{ ...manJian, offer: { kind: 'amount_off', amountOffFen: 0 } }, 400, /offer/],
        [
          { ...manJian, nameZh: ' ', conditions: { validFrom: '2026-07-01T00:00:00Z', validUntil: '2026-06-01T00:00:00Z' } },
          400,
          /nameZh is required; conditions: validFrom must be before validUntil/,
        ],
        [{ ...manJian, conditions: { tiers: [] } }, 400, /tiers/],
        [{ ...manJian, bonus: 1 }, 400, /bonus/],
      ];
      for (const [body, status, message] of cases) {
        const response = await send('POST', '/coupon-templates', hq, { ...body, reason: 'x' });
        expect(response.statusCode, JSON.stringify(body)).toBe(status);
        expect(response.json().error.message).toMatch(message);
      }
      expect((await rest.db.query('SELECT count(*)::int AS n FROM coupon_templates')).rows).toEqual(before.rows);
    });

    it('from a store or region manager must be limited to stores in their scope; cashiers cannot create them', async () => {
      const storeManager = rest.org.tokens.xuhui.manager;
      expect((await send('POST', '/coupon-templates', storeManager, { ...manJian, reason: 'x' })).statusCode).toBe(403);
      const other = { ...manJian, conditions: { ...manJian.conditions, storeIds: ['gz-tianhe'] } };
      expect((await send('POST', '/coupon-templates', storeManager, { ...other, reason: 'x' })).statusCode).toBe(403);
      const own = { ...manJian, conditions: { ...manJian.conditions, storeIds: [store] } };
      expect((await send('POST', '/coupon-templates', storeManager, { ...own, reason: 'x' })).statusCode).toBe(201);
      expect((await send('POST', '/coupon-templates', rest.org.tokens.east.manager, { ...own, reason: 'x' })).statusCode).toBe(201);
      expect((await send('POST', '/coupon-templates', cashier, { ...own, reason: 'x' })).statusCode).toBe(403);
    });
  });

  describe('issue', () => {
    it('gives a member one coupon per key with a unique till code; a retry returns the same coupon', async () => {
      const templateId = await template(manJian);
      const memberId = await member();
      const issueKey = key('issue');
      const first = await issue(memberId, templateId, issueKey);
      expect(first.statusCode, first.body).toBe(201);
      const coupon = first.json().coupon;
      expect(coupon).toMatchObject({ templateId, memberId, status: 'issued', terms: manJian, label: { zh: '满100减20' } });
      expect(coupon.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      const again = await issue(memberId, templateId, issueKey);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ coupon, created: false });
      const second = (await issue(memberId, templateId)).json().coupon;
      expect(second.code).not.toBe(coupon.code);
      expect((await send('GET', `/members/${memberId}/coupons?status=issued`, cashier)).json().coupons).toHaveLength(2);
      expect((await couponHistory(rest.db, coupon.couponId)).map((h) => [h.action, h.actor.id, h.reason])).toEqual([
        ['issued', rest.org.operatorIds.xuhui.cashier, 'welcome gift'],
      ]);
    });

    it('keeps the terms a coupon was issued with when the template changes later', async () => {
      const templateId = await template(manJian);
      const memberId = await member();
      const coupon = (await issue(memberId, templateId)).json().coupon;
      await send('PUT', `/coupon-templates/${templateId}`, hq, { definition: { ...manJian, offer: { kind: 'amount_off', amountOffFen: 1 } }, reason: 'oops' });
      expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons[0]).toMatchObject({ couponId: coupon.couponId, terms: manJian });
    });

    it('sells a points-exchange coupon for points in one ledger transaction, and refuses it when points are short', async () => {
      const templateId = await template({ ...manJian, nameZh: '积分换券', nameEn: 'Points coupon', pointsCost: 500 });
      const memberId = await member('xuhui', 700);
      const bought = await issue(memberId, templateId);
      expect(bought.statusCode, bought.body).toBe(201);
      expect(bought.json().coupon.purchaseTxId).toEqual(expect.any(String));
      expect((await send('GET', `/members/${memberId}`, cashier)).json().balances.points).toBe(200);
      const before = await rowCounts(rest.db);
      const short = await issue(memberId, templateId);
      expect(short.statusCode).toBe(409);
      expect(short.json().error.code).toBe('INSUFFICIENT_POINTS');
      expect(await rowCounts(rest.db)).toEqual(before);
      expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons).toHaveLength(1);
      await expectLedgerConsistent(rest.db);
    });

    it('refuses a points-exchange coupon the points spending budget does not allow', async () => {
      const templateId = await template({ ...manJian, pointsCost: 500 });
      const memberId = await member('xuhui', 2_000);
      const budgets = { timeZone: 'Asia/Shanghai', caps: [{ scope: 'member', direction: 'spend', period: 'day', limitPoints: 600 }], alertPercents: [100] } as const;
      const buy = () => issueCoupon(rest.db, rest.services.ledger, { templateId, memberId, issueKey: key('buy'), actor: { type: 'operator', id: 'c' }, reason: 'buy', budgets });
      expect((await buy()).created).toBe(true);
      await expect(buy()).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
      expect((await send('GET', `/members/${memberId}`, cashier)).json().balances.points).toBe(1_500);
    });

    it('refuses members outside the operator’s scope, unknown templates and bad bodies', async () => {
      const templateId = await template(manJian);
      const tianheMember = await member('tianhe');
      expect((await issue(tianheMember, templateId)).statusCode).toBe(403);
      expect((await send('GET', `/members/${tianheMember}/coupons`, cashier)).statusCode).toBe(403);
      const memberId = await member();
      const unknown = await issue(memberId, '0190a000-0000-7000-8000-000000000000');
      expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'COUPON_NOT_FOUND']);
      const bad = await send('POST', `/members/${memberId}/coupons`, cashier, { templateId, idempotencyKey: 'short', reason: 'x' });
      expect(bad.statusCode).toBe(400);
      expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons).toEqual([]);
    });
  });

  describe('targeted issue', () => {
    it('reaches members whose birthday is this month, once per campaign key, within the operator’s scope', async () => {
      const templateId = await template({ nameZh: '生日券', nameEn: 'Birthday', offer: { kind: 'percent_off', percentOff: 20 }, conditions: {} });
      const march = await member('xuhui');
      const april = await member('xuhui');
      const marchElsewhere = await member('tianhe');
      for (const [memberId, birthMonthDay, token] of [
        [march, '03-15', cashier],
        [april, '04-01', cashier],
        [marchElsewhere, '03-02', rest.org.tokens.tianhe.cashier],
      ] as const) {
        expect((await send('PUT', `/members/${memberId}/birthday`, token, { birthMonthDay, reason: 'member told us' })).statusCode).toBe(204);
      }
      expect((await send('PUT', `/members/${april}/birthday`, cashier, { birthMonthDay: '13-01', reason: 'x' })).statusCode).toBe(400);

      // 1 March 00:30 in Shanghai (still February in UTC), run by the Xuhui store manager: their members only.
      const at = new Date('2026-02-28T16:30:00Z');
      const segment = { kind: 'birthday_month', timeZone: 'Asia/Shanghai' } as const;
      const run = () =>
        issueToSegment(rest.db, rest.services.ledger, { templateId, segment, campaignKey: 'birthday-2026-03', actor: { type: 'operator', id: 'm' }, reason: 'birthday month', storeIds: [store], at });
      expect(await run()).toEqual({ matched: 1, issued: 1, alreadyIssued: 0 });
      expect(await run()).toEqual({ matched: 1, issued: 0, alreadyIssued: 1 });
      expect((await send('GET', `/members/${march}/coupons`, cashier)).json().coupons).toHaveLength(1);
      expect((await send('GET', `/members/${april}/coupons`, cashier)).json().coupons).toHaveLength(0);
      expect((await send('GET', `/members/${marchElsewhere}/coupons`, rest.org.tokens.tianhe.cashier)).json().coupons).toHaveLength(0);

      // Over REST the store comes from the operator's scope; another store's id is refused.
      const overRest = await send('POST', `/coupon-templates/${templateId}/targeted-issues`, rest.org.tokens.xuhui.manager, {
        segment: { kind: 'no_purchase_within_days', days: 30 },
        campaignKey: 'lapsed-2026-03',
        reason: 'win back',
      });
      expect(overRest.statusCode, overRest.body).toBe(200);
      expect(overRest.json().issued).toBeGreaterThanOrEqual(2);
      const foreign = await send('POST', `/coupon-templates/${templateId}/targeted-issues`, rest.org.tokens.xuhui.manager, {
        segment: { kind: 'no_purchase_within_days', days: 30 },
        campaignKey: 'lapsed-2026-03',
        storeId: 'gz-tianhe',
        reason: 'win back',
      });
      expect(foreign.statusCode).toBe(403);
      expect((await send('GET', `/members/${marchElsewhere}/coupons`, rest.org.tokens.tianhe.cashier)).json().coupons).toHaveLength(0);
    });

    it('reaches members without a purchase in the last N days (a refunded purchase does not count)', async () => {
      const templateId = await template({ nameZh: '回归券', nameEn: 'Come back', offer: { kind: 'amount_off', amountOffFen: 500 }, conditions: {} });
      const recent = await member();
      const refunded = await member();
      const never = await member();
      const pay = async (memberId: string, occurredAt: string) =>
        (
          await send('POST', '/checkout', cashier, {
            idempotencyKey: key('co'),
            memberId,
            storeId: store,
            lines: [{ sku: 'tea', category: 'drinks', unitPriceFen: 800, quantity: 1 }],
            payment: { cashFen: 800 },
            occurredAt,
          })
        ).json().receipt.checkoutId as string;
      const at = new Date('2026-06-30T12:00:00Z');
      await pay(recent, '2026-05-31T12:00:00Z'); // exactly 30 days before: still within
      const gone = await pay(refunded, '2026-06-29T12:00:00Z');
      expect((await send('POST', `/checkout/${gone}/refund`, rest.org.tokens.xuhui.manager, { idempotencyKey: key('r'), reason: 'returned' })).statusCode).toBe(201);
      const result = await issueToSegment(rest.db, rest.services.ledger, {
        templateId,
        segment: { kind: 'no_purchase_within_days', days: 30 },
        campaignKey: 'lapsed-test',
        actor: { type: 'system', id: 'test' },
        reason: 'win back',
        at,
      });
      const holders = (await rest.db.query<{ member_id: string }>('SELECT member_id FROM coupons WHERE template_id = $1', [templateId])).rows.map((r) => r.member_id);
      expect(holders).toContain(refunded);
      expect(holders).toContain(never);
      expect(holders).not.toContain(recent);
      expect(result.issued).toBe(holders.length);
    });

    it('refuses a points-exchange template and a bad segment', async () => {
      const bought = await template({ ...manJian, pointsCost: 10 });
      const refused = await send('POST', `/coupon-templates/${bought}/targeted-issues`, hq, {
        segment: { kind: 'no_purchase_within_days', days: 30 },
        campaignKey: 'x',
        reason: 'x',
      });
      expect([refused.statusCode, refused.json().error.code]).toEqual([400, 'INVALID_INPUT']);
      const given = await template(manJian);
      const bad = await send('POST', `/coupon-templates/${given}/targeted-issues`, hq, { segment: { kind: 'birthday_month', timeZone: 'Mars/Base' }, campaignKey: 'x', reason: 'x' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(/IANA/);
    });
  });

  it('answers each refusal with the code its route declares, in Chinese and English', async () => {
    const manager = rest.org.tokens.xuhui.manager;
    const unknownTemplate = '0190a000-0000-7000-8000-000000000000';
    const given = await template(manJian);
    const other = await template({ ...manJian, nameZh: '满200减50', nameEn: '¥50 off ¥200' });
    const stopped = await template(manJian);
    expect((await send('PUT', `/coupon-templates/${stopped}`, hq, { active: false, reason: 'over' })).statusCode).toBe(200);
    const memberId = await member();
    const usedKey = key('issue');
    expect((await issue(memberId, given, usedKey)).statusCode).toBe(201);
    const campaign = { segment: { kind: 'no_purchase_within_days', days: 30 }, campaignKey: key('campaign'), reason: 'win back' };
    expect((await send('POST', `/coupon-templates/${given}/targeted-issues`, manager, campaign)).statusCode).toBe(200);

    const cases: Array<[string, 'GET' | 'POST' | 'PUT', string, string, object | undefined, number, string]> = [
      ['an unknown template', 'GET', `/coupon-templates/${unknownTemplate}`, cashier, undefined, 404, 'COUPON_NOT_FOUND'],
      ['an unknown template changed', 'PUT', `/coupon-templates/${unknownTemplate}`, hq, { active: false, reason: 'x' }, 404, 'COUPON_NOT_FOUND'],
      ['a change that changes nothing', 'PUT', `/coupon-templates/${given}`, hq, { reason: 'x' }, 400, 'INVALID_INPUT'],
      ['a blank reason', 'POST', '/coupon-templates', hq, { ...manJian, reason: '  ' }, 400, 'INVALID_INPUT'],
      ['a key used for another coupon', 'POST', `/members/${memberId}/coupons`, cashier, { templateId: other, idempotencyKey: usedKey, reason: 'gift' }, 409, 'IDEMPOTENCY_CONFLICT'],
      ['a stopped template issued', 'POST', `/members/${memberId}/coupons`, cashier, { templateId: stopped, idempotencyKey: key(), reason: 'gift' }, 409, 'COUPON_NOT_APPLICABLE'],
      ['a birthday without a reason', 'PUT', `/members/${memberId}/birthday`, cashier, { birthMonthDay: '03-15', reason: ' ' }, 400, 'INVALID_INPUT'],
      ['a campaign of an unknown template', 'POST', `/coupon-templates/${unknownTemplate}/targeted-issues`, manager, campaign, 404, 'COUPON_NOT_FOUND'],
      ['a campaign of a stopped template', 'POST', `/coupon-templates/${stopped}/targeted-issues`, manager, { ...campaign, campaignKey: key('campaign') }, 409, 'COUPON_NOT_APPLICABLE'],
      ['a campaign key used with another template', 'POST', `/coupon-templates/${other}/targeted-issues`, manager, campaign, 409, 'IDEMPOTENCY_CONFLICT'],
      ['an expiry instant without an offset', 'POST', '/jobs/coupon-expiry', rest.org.tokens.hq.admin, { asOf: '2026-07-01' }, 400, 'INVALID_INPUT'],
    ];
    for (const [label, method, url, token, payload, status, code] of cases) {
      const reply = await send(method, url, token, payload);
      expect([label, reply.statusCode, reply.json().error?.code]).toEqual([label, status, code]);
      expect(reply.json().error.message, label).toMatch(/\p{Script=Han}.* \/ \S/u);
    }
    expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons).toHaveLength(2);
  });

  it('refuses a points-exchange coupon over REST when the published points budget does not allow it', async () => {
    const admin = rest.org.tokens.hq.admin;
    const publish = (rules: object) => send('PUT', '/program/rules', admin, { rules, reason: 'budget test' });
    const { rules } = (await send('GET', '/program/rules', admin)).json();
    const budgets = { timeZone: 'Asia/Shanghai', caps: [{ scope: 'member', direction: 'spend', period: 'day', limitPoints: 600 }], alertPercents: [100] };
    expect((await publish({ ...rules, budgets })).statusCode).toBe(201);
    try {
      const templateId = await template({ ...manJian, pointsCost: 500 });
      const memberId = await member('xuhui', 2_000);
      expect((await issue(memberId, templateId)).statusCode).toBe(201);
      const refused = await issue(memberId, templateId);
      expect([refused.statusCode, refused.json().error.code]).toEqual([409, 'BUDGET_EXCEEDED']);
      expect(refused.json().error.message).toMatch(/^积分使用额度不足 \/ The points spending budget does not allow/);
      expect((await send('GET', `/members/${memberId}`, cashier)).json().balances.points).toBe(1_500);
    } finally {
      expect((await publish(rules)).statusCode).toBe(201);
    }
  });

  describe('expiry', () => {
    it('expires issued coupons at the end of their window (exclusive), once; an expired coupon cannot be used', async () => {
      const validUntil = '2099-07-01T00:00:00+08:00';
      const templateId = await template({ ...manJian, conditions: { ...manJian.conditions, validUntil } });
      const memberId = await member();
      const coupon = (await issue(memberId, templateId)).json().coupon;
      const admin = rest.org.tokens.hq.admin;
      const job = (asOf: string) => send('POST', '/jobs/coupon-expiry', admin, { asOf });
      expect((await job('2099-06-30T23:59:59.999+08:00')).json()).toEqual({ expired: 0 });
      expect((await job(validUntil)).json().expired).toBeGreaterThanOrEqual(1);
      expect((await job(validUntil)).json()).toEqual({ expired: 0 });
      expect((await send('GET', `/members/${memberId}/coupons`, cashier)).json().coupons[0].status).toBe('expired');
      expect((await couponHistory(rest.db, coupon.couponId)).map((h) => h.action)).toEqual(['issued', 'expired']);
      const use = await send('POST', '/checkout/quote', cashier, {
        memberId,
        storeId: store,
        lines: [{ sku: 'x', category: 'food', unitPriceFen: 20_000, quantity: 1 }],
        couponCode: coupon.code,
      });
      expect([use.statusCode, use.json().error.code]).toEqual([409, 'COUPON_NOT_APPLICABLE']);
      expect((await send('POST', '/jobs/coupon-expiry', rest.org.tokens.xuhui.admin, {})).statusCode).toBe(403);
      expect((await send('POST', '/jobs/coupon-expiry', admin, { asOf: 'tomorrow' })).statusCode).toBe(400);
    });
  });

  it('documents every route in OpenAPI under the coupons tag', async () => {
    const spec = (await rest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const [path, method] of [
      ['/api/v1/coupon-templates', 'get'],
      ['/api/v1/coupon-templates', 'post'],
      ['/api/v1/coupon-templates/{templateId}', 'get'],
      ['/api/v1/coupon-templates/{templateId}', 'put'],
      ['/api/v1/coupon-templates/{templateId}/targeted-issues', 'post'],
      ['/api/v1/members/{memberId}/coupons', 'get'],
      ['/api/v1/members/{memberId}/coupons', 'post'],
      ['/api/v1/members/{memberId}/birthday', 'put'],
      ['/api/v1/jobs/coupon-expiry', 'post'],
    ] as const) {
      const operation = spec.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.tags).toEqual(['coupons']);
    }
  });
});
