import { describe, expect, it } from 'vitest';
import { toSnapshot } from '../../cloud/ledger/index.ts';
import { decodePayload } from '../../shared/contract/decode.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { bearer } from '../helpers/org.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, newCardNumber, newCardUid, rowCounts, useDatabases, testLedger } from './support.ts';
import { memberByCard } from '../../cloud/cards/index.ts';

const databases = useDatabases();

describe.each(BACKENDS)('REST API on %s', (backend) => {
  const log = capturedLogger();
  const rest = useRestApi(() => databases.open(backend), { logger: log.logger });

  // A store manager at the Xuhui store: every member route is open to them, for members of their store.
  const manager = () => rest.org.tokens.xuhui.manager;
  const auth = () => bearer(manager());
  const post = (url: string, payload: object) => rest.send('POST', url, manager(), payload);
  const get = (url: string) => rest.send('GET', url, manager());

  async function memberWithBalance(amountFen: number) {
    const member = (await post('/members', { name: 'Li Lei', phone: '13800138000' })).json();
    const cardUid = newCardUid();
    expect((await post(`/members/${member.memberId}/cards`, { cardUid })).statusCode).toBe(201);
    if (amountFen > 0) {
      const topUp = await post(`/members/${member.memberId}/topups`, { idempotencyKey: key(), amountFen });
      expect(topUp.statusCode).toBe(201);
    }
    return { memberId: member.memberId as string, cardUid };
  }

  it('acceptance: 100 concurrent ¥10 payments against ¥50 — exactly 5 succeed, 95 are refused, balance ends at 0', async () => {
    const { memberId } = await memberWithBalance(5_000);
    const replies = await Promise.all(
      Array.from({ length: 100 }, () => post(`/members/${memberId}/payments`, { idempotencyKey: key('pay'), amountFen: 1_000 })),
    );
    const succeeded = replies.filter((r) => r.statusCode === 201);
    const refused = replies.filter((r) => r.statusCode === 409);
    expect(succeeded).toHaveLength(5);
    expect(refused).toHaveLength(95);
    for (const reply of refused) {
      expect(reply.json()).toEqual({
        error: { code: 'INSUFFICIENT_BALANCE', message: expect.stringMatching(/^储值余额不足：余额 ¥\d+\.\d\d，需要 ¥10\.00 \/ Not enough stored value: the balance is ¥\d+\.\d\d but ¥10\.00 is needed$/) },
      });
    }
    expect(succeeded.map((r) => r.json().member.balances.principalFen).sort((a, b) => a - b)).toEqual([0, 1_000, 2_000, 3_000, 4_000]);

    const member = (await get(`/members/${memberId}`)).json();
    expect(member.balances).toEqual({ principalFen: 0, bonusFen: 0, points: 0 });
    expect(member.version).toBe(7); // card bound, one top-up, five payments
    const statement = (await get(`/members/${memberId}/statement?limit=200`)).json();
    expect(statement.entries).toHaveLength(6);
    await expectLedgerConsistent(rest.db);
  });

  it('replays an idempotency key with the first result (200, replay) and refuses it for a different payload (409)', async () => {
    const { memberId } = await memberWithBalance(0);
    const body = { idempotencyKey: key(), amountFen: 2_000 };
    const first = await post(`/members/${memberId}/topups`, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ replay: false, member: { balances: { principalFen: 2_000 } } });
    const before = await rowCounts(rest.db);

    const replay = await post(`/members/${memberId}/topups`, body);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual({ ...first.json(), replay: true });

    const conflict = await post(`/members/${memberId}/topups`, { ...body, amountFen: 2_500 });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await rowCounts(rest.db)).toEqual(before);
    expect((await get(`/members/${memberId}`)).json().balances.principalFen).toBe(2_000);
  });

  it('prices top-ups with the published bonus rules and pays in the published spending order; a big spend upgrades the tier at once', async () => {
    const { memberId } = await memberWithBalance(0);
    // Default program: 充100送20, 充200送50, 充300送100 (best bracket wins); principal is spent first.
    const topUp = await post(`/members/${memberId}/topups`, { idempotencyKey: key(), amountFen: 250_000 });
    expect(topUp.json().member.balances).toEqual({ principalFen: 250_000, bonusFen: 10_000, points: 0 });
    expect(topUp.json().topUp).toEqual({ principalFen: 250_000, bonusFen: 10_000, bonusPoints: 0, ruleId: expect.any(String) });

    const paid = await post(`/members/${memberId}/payments`, { idempotencyKey: key('pay'), amountFen: 100_000 });
    expect(paid.statusCode).toBe(201);
    expect(paid.json().member.balances).toEqual({ principalFen: 150_000, bonusFen: 10_000, points: 0 });
    expect(paid.json().member.tier).toBe('silver'); // ¥1,000 within the window reaches 银卡 Silver
    await expectLedgerConsistent(rest.db);
  });

  it('moves points and redeems them', async () => {
    const { memberId } = await memberWithBalance(0);
    const granted = await post(`/members/${memberId}/points-adjustments`, { idempotencyKey: key(), points: 300, reason: 'Birthday' });
    expect(granted.statusCode).toBe(201);
    const redeemed = await post(`/members/${memberId}/redemptions`, { idempotencyKey: key(), points: 250, item: 'Tote bag' });
    expect(redeemed.json().member.balances.points).toBe(50);
    const short = await post(`/members/${memberId}/redemptions`, { idempotencyKey: key(), points: 51, item: 'Tote bag' });
    expect(short.statusCode).toBe(409);
    expect(short.json().error.code).toBe('INSUFFICIENT_POINTS');
    const entries = (await get(`/members/${memberId}/statement`)).json().entries;
    expect(entries[0]).toMatchObject({ kind: 'points_redemption', amount: -250, balanceAfter: 50, reason: 'Redeemed: Tote bag', actor: { type: 'operator' } });
  });

  it('finds a member by card and refuses a card bound to someone else', async () => {
    const { memberId, cardUid } = await memberWithBalance(0);
    const found = await get(`/cards/${cardUid}/member`);
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ memberId, cardUid, tier: 'standard' });
    const rebind = await post(`/members/${memberId}/cards`, { cardUid: cardUid.toLowerCase() });
    expect(rebind.statusCode).toBe(200);
    expect(rebind.json().alreadyBound).toBe(true);
    const other = (await post('/members', { name: 'Han Meimei' })).json();
    const taken = await post(`/members/${other.memberId}/cards`, { cardUid });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.code).toBe('CARD_ALREADY_BOUND');
  });

  it('binds a card with its card number, finds the member by number and refuses a number on another card', async () => {
    const { memberId } = await memberWithBalance(0);
    const cardUid = newCardUid();
    const cardNumber = newCardNumber();
    const bound = await post(`/members/${memberId}/cards`, { cardUid, cardNumber: cardNumber.replace(/(\d{4})(?=\d)/g, '$1-') });
    expect(bound.statusCode).toBe(201);
    expect(bound.json()).toMatchObject({ alreadyBound: false, member: { memberId, cardUid, cardNumber } });
    const rebind = await post(`/members/${memberId}/cards`, { cardUid, cardNumber });
    expect(rebind.statusCode).toBe(200);
    expect(rebind.json()).toMatchObject({ alreadyBound: true, member: { cardUid, cardNumber } });

    const found = await get(`/card-numbers/${cardNumber}/member`);
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ memberId, cardUid, cardNumber, tier: 'standard' });
    expect((await get(`/cards/${cardUid}/member`)).json()).toMatchObject({ cardUid, cardNumber });
    // A member reached by a card without a number has none in the snapshot.
    const plain = await memberWithBalance(0);
    expect((await get(`/cards/${plain.cardUid}/member`)).json()).not.toHaveProperty('cardNumber');

    const before = await rowCounts(rest.db);
    const taken = await post(`/members/${plain.memberId}/cards`, { cardUid: newCardUid(), cardNumber });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error).toEqual({ code: 'CARD_ALREADY_BOUND', message: `卡号 ****${cardNumber.slice(-4)} 已在另一张卡上 / Card number ****${cardNumber.slice(-4)} is already on another card` });
    const renumbered = await post(`/members/${memberId}/cards`, { cardUid, cardNumber: newCardNumber() });
    expect(renumbered.statusCode).toBe(409);
    expect(renumbered.json().error.code).toBe('CARD_ALREADY_BOUND');
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  it('binds a card as personal (the default), group or vip; a rebind may not change the type; any other type is 400 and changes nothing', async () => {
    const { memberId, cardUid: plain } = await memberWithBalance(0);
    const typeOf = async (cardUid: string) => (await get(`/cards/${cardUid}`)).json().type;
    expect(await typeOf(plain)).toBe('personal');
    for (const type of ['personal', 'group', 'vip'] as const) {
      const cardUid = newCardUid();
      const bound = await post(`/members/${memberId}/cards`, { cardUid, type });
      expect([bound.statusCode, bound.json()]).toEqual([201, { alreadyBound: false, member: expect.objectContaining({ memberId, cardUid }) }]);
      expect(await typeOf(cardUid)).toBe(type);
      expect((await post(`/members/${memberId}/cards`, { cardUid, type })).statusCode).toBe(200);
    }
    expect(log.lines.join('')).toContain('"type":"vip","msg":"card bound"');

    const vip = newCardUid();
    expect((await post(`/members/${memberId}/cards`, { cardUid: vip, type: 'vip' })).statusCode).toBe(201);
    const before = await rowCounts(rest.db);
    const version = (await get(`/members/${memberId}`)).json().version;
    // Without a type a rebind repeats the binding; with another type it is refused.
    expect((await post(`/members/${memberId}/cards`, { cardUid: vip })).statusCode).toBe(200);
    const retyped = await post(`/members/${memberId}/cards`, { cardUid: vip, type: 'group' });
    expect([retyped.statusCode, retyped.json().error.code]).toEqual([409, 'CARD_ALREADY_BOUND']);
    expect(retyped.json().error.message).toMatch(/already bound to this member as a vip card, not group/);
    for (const type of ['supplementary', 'VIP', 'gold', '', null, 1, ['vip']]) {
      const reply = await post(`/members/${memberId}/cards`, { cardUid: newCardUid(), type });
      expect({ type, status: reply.statusCode, code: reply.json().error.code }).toEqual({ type, status: 400, code: 'VALIDATION_FAILED' });
      expect(reply.json().error.message).toMatch(/type/);
    }
    expect(await rowCounts(rest.db)).toEqual(before);
    expect((await get(`/members/${memberId}`)).json().version).toBe(version);
    expect(await typeOf(vip)).toBe('vip');
  });

  it("shows a member's home store over REST but never in the kiosk snapshot, which stays exactly as it was", async () => {
    const xuhui = rest.org.stores.xuhui.storeId;
    const created = await post('/members', { name: 'Li Lei' });
    expect(created.json()).toMatchObject({ homeStoreId: xuhui });
    const { memberId } = created.json();
    const cardUid = newCardUid();
    const bound = await post(`/members/${memberId}/cards`, { cardUid });
    expect(bound.json().member).not.toHaveProperty('homeStoreId');
    expect((await get(`/members/${memberId}`)).json()).toMatchObject({ memberId, cardUid, homeStoreId: xuhui });
    const topUp = await post(`/members/${memberId}/topups`, { idempotencyKey: key(), amountFen: 1_000 });
    expect(topUp.json().member).toMatchObject({ homeStoreId: xuhui, balances: { principalFen: 1_000 } });
    expect((await get(`/members/${memberId}/statement`)).statusCode).toBe(200);

    // Kiosks get the MQTT MemberSnapshot (card lookups, acks, member updates): the same fields, in the same order.
    const ledger = await testLedger(rest.db);
    const snapshotKeys = ['memberId', 'displayName', 'tier', 'cardUid', 'balances', 'version', 'asOf'];
    for (const snapshot of [(await get(`/cards/${cardUid}/member`)).json(), await memberByCard(rest.db, ledger, cardUid), toSnapshot(await ledger.getMember(memberId))]) {
      expect(Object.keys(snapshot)).toEqual(snapshotKeys);
      expect(decodePayload(MemberSnapshot, JSON.stringify(snapshot)).ok).toBe(true);
    }
    expect(decodePayload(MemberSnapshot, JSON.stringify(topUp.json().member)).ok).toBe(false);

    // A member without a home store (registered before stores existed) has none in the view.
    const legacy = await ledger.createMember({ name: 'Han Meimei', actor: { type: 'system', id: 'http-test' } });
    expect(legacy).not.toHaveProperty('homeStoreId');
    const viaHq = await rest.app.inject({ method: 'GET', url: `/api/v1/members/${legacy.memberId}`, headers: bearer(rest.org.tokens.hq.admin) });
    expect(viaHq.statusCode).toBe(200);
    expect(viaHq.json()).not.toHaveProperty('homeStoreId');
  });

  it('refuses malformed requests with a clear error naming the problem, and changes nothing', async () => {
    const { memberId } = await memberWithBalance(1_000);
    const unknownMember = '01900000-0000-7000-8000-000000000000';
    const topups = `/members/${memberId}/topups`;
    const cases: Array<[string, () => ReturnType<typeof post>, number, string, RegExp]> = [
      ['missing key', () => post(topups, { amountFen: 100 }), 400, 'VALIDATION_FAILED', /idempotencyKey/],
      ['missing amount', () => post(topups, { idempotencyKey: key() }), 400, 'VALIDATION_FAILED', /amountFen/],
      ['float amount', () => post(topups, { idempotencyKey: key(), amountFen: 10.5 }), 400, 'VALIDATION_FAILED', /amountFen.*integer/],
      ['string amount', () => post(topups, { idempotencyKey: key(), amountFen: '10' }), 400, 'VALIDATION_FAILED', /amountFen.*integer/],
      ['negative amount', () => post(topups, { idempotencyKey: key(), amountFen: -100 }), 400, 'VALIDATION_FAILED', /amountFen/],
      ['zero amount', () => post(topups, { idempotencyKey: key(), amountFen: 0 }), 400, 'VALIDATION_FAILED', /amountFen/],
      ['huge amount', () => post(topups, { idempotencyKey: key(), amountFen: 1e12 }), 400, 'VALIDATION_FAILED', /amountFen/],
      ['extra field', () => post(topups, { idempotencyKey: key(), amountFen: 100, deviceId: 'K-1' }), 400, 'VALIDATION_FAILED', /deviceId/],
      ['short key', () => post(topups, { idempotencyKey: 'abc', amountFen: 100 }), 400, 'VALIDATION_FAILED', /idempotencyKey/],
      ['no body', () => rest.app.inject({ method: 'POST', url: `/api/v1${topups}`, headers: auth() }), 400, 'VALIDATION_FAILED', /body/],
      ['array body', () => post(topups, [1]), 400, 'VALIDATION_FAILED', /body/],
      [
        'broken JSON',
        () => rest.app.inject({ method: 'POST', url: `/api/v1${topups}`, headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"amountFen":' }),
        400,
        'BAD_REQUEST',
        /JSON/,
      ],
      ['zero points', () => post(`/members/${memberId}/points-adjustments`, { idempotencyKey: key(), points: 0, reason: 'x' }), 400, 'INVALID_AMOUNT', /not 0/],
      ['missing reason', () => post(`/members/${memberId}/points-adjustments`, { idempotencyKey: key(), points: 5 }), 400, 'VALIDATION_FAILED', /reason/],
      ['bad member id', () => post('/members/123/topups', { idempotencyKey: key(), amountFen: 100 }), 400, 'VALIDATION_FAILED', /memberId/],
      ['unknown member', () => post(`/members/${unknownMember}/payments`, { idempotencyKey: key(), amountFen: 100 }), 404, 'MEMBER_NOT_FOUND', /No member/],
      ['unknown member (GET)', () => get(`/members/${unknownMember}`), 404, 'MEMBER_NOT_FOUND', /No member/],
      ['bad card UID', () => post(`/members/${memberId}/cards`, { cardUid: 'hello' }), 400, 'INVALID_CARD_UID', /4, 7 or 10 bytes/],
      ['bad card UID (GET)', () => get('/cards/XYZ/member'), 400, 'INVALID_CARD_UID', /4, 7 or 10 bytes/],
      ['unknown card', () => get(`/cards/${newCardUid()}/member`), 404, 'CARD_NOT_FOUND', /not registered/],
      ['short card number', () => post(`/members/${memberId}/cards`, { cardUid: newCardUid(), cardNumber: '620012341234567' }), 400, 'INVALID_CARD_NUMBER', /not 16 digits/],
      ['card number with a letter', () => post(`/members/${memberId}/cards`, { cardUid: newCardUid(), cardNumber: '6200A23412345678' }), 400, 'INVALID_CARD_NUMBER', /not 16 digits/],
      ['card number as a JSON number', () => post(`/members/${memberId}/cards`, { cardUid: newCardUid(), cardNumber: 6200123412345678 }), 400, 'VALIDATION_FAILED', /cardNumber/],
      ['empty card number', () => post(`/members/${memberId}/cards`, { cardUid: newCardUid(), cardNumber: '' }), 400, 'VALIDATION_FAILED', /cardNumber/],
      ['bad card number (GET)', () => get('/card-numbers/62001234/member'), 400, 'INVALID_CARD_NUMBER', /not 16 digits/],
      ['unknown card number', () => get(`/card-numbers/${newCardNumber()}/member`), 404, 'CARD_NOT_FOUND', /card number is not registered/],
      ['empty name', () => post('/members', { name: '' }), 400, 'VALIDATION_FAILED', /name/],
      ['bad limit', () => get(`/members/${memberId}/statement?limit=1.5`), 400, 'VALIDATION_FAILED', /limit/],
      ['limit too high', () => get(`/members/${memberId}/statement?limit=201`), 400, 'VALIDATION_FAILED', /limit/],
      ['unknown route', () => get('/nothing-here'), 404, 'ROUTE_NOT_FOUND', /No such endpoint/],
    ];
    const before = await rowCounts(rest.db);
    for (const [label, send, status, code, message] of cases) {
      const reply = await send();
      expect({ label, status: reply.statusCode, code: reply.json().error?.code }).toEqual({ label, status, code });
      expect(reply.json().error.message, label).toMatch(message);
      expect(Object.keys(reply.json())).toEqual(['error']);
    }
    expect(await rowCounts(rest.db)).toEqual(before);
    expect((await get(`/members/${memberId}`)).json().balances.principalFen).toBe(1_000);
  });

  it('never logs a full card UID, card number or phone number', async () => {
    const { memberId, cardUid } = await memberWithBalance(0);
    const cardNumber = newCardNumber();
    const numberedCard = newCardUid();
    await post(`/members/${memberId}/cards`, { cardUid: numberedCard, cardNumber });
    await get(`/cards/${cardUid}/member`);
    await get(`/card-numbers/${cardNumber}/member`);
    await get(`/card-numbers/${cardNumber.slice(0, 15)}/member`);
    await post('/members/01900000-0000-7000-8000-000000000000/cards', { cardUid, cardNumber });
    const logs = log.lines.join('');
    expect(logs).toContain('request completed');
    expect(logs).toContain(`"cardNumber":"****${cardNumber.slice(-4)}"`);
    expect(logs).not.toContain(cardUid);
    expect(logs).not.toContain(numberedCard);
    expect(logs).not.toContain(cardNumber.slice(0, 12));
    expect(logs).not.toContain('13800138000');
    for (const token of Object.values(rest.org.tokens).flatMap((byRole) => Object.values(byRole))) expect(logs).not.toContain(token);
  });

  it('reports health with the database backend, without a token', async () => {
    const health = await rest.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok', database: backend });
  });

  it('publishes an OpenAPI document at /docs/json listing every route', async () => {
    const reply = await rest.app.inject({ method: 'GET', url: '/docs/json' });
    expect(reply.statusCode).toBe(200);
    const routes = Object.entries(reply.json().paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // Other domains add their own routes; these are the member, ledger and organisation ones.
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /api/v1/health',
        'POST /api/v1/members',
        'GET /api/v1/members/{memberId}',
        'POST /api/v1/members/{memberId}/cards',
        'GET /api/v1/cards/{cardUid}/member',
        'GET /api/v1/card-numbers/{cardNumber}/member',
        'POST /api/v1/members/{memberId}/topups',
        'POST /api/v1/members/{memberId}/payments',
        'POST /api/v1/members/{memberId}/points-adjustments',
        'POST /api/v1/members/{memberId}/redemptions',
        'GET /api/v1/members/{memberId}/statement',
        'GET /api/v1/me',
        'GET /api/v1/regions',
        'POST /api/v1/regions',
        'GET /api/v1/stores',
        'POST /api/v1/stores',
        'GET /api/v1/operators',
        'POST /api/v1/operators',
        'POST /api/v1/operators/{operatorId}/deactivation',
        'GET /api/v1/settlement',
      ]),
    );
    const bindCardBody = reply.json().paths['/api/v1/members/{memberId}/cards'].post.requestBody.content['application/json'].schema;
    expect(bindCardBody.properties).toHaveProperty('cardNumber');
    expect(bindCardBody.properties.type.anyOf.flatMap((option: { enum: string[] }) => option.enum)).toEqual(['personal', 'group', 'vip']);
    expect(bindCardBody.required).toEqual(['cardUid']);
    const member = reply.json().paths['/api/v1/members/{memberId}'].get.responses['200'].content['application/json'].schema;
    expect(member.properties).toHaveProperty('homeStoreId');
    expect(member.required).not.toContain('homeStoreId');
    expect(reply.json().components.securitySchemes.operatorToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(reply.json().paths['/api/v1/health'].get.security).toEqual([]);
    expect((await rest.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });
});
