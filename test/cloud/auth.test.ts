import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hubConfigFromEnv } from '../../cloud/config.ts';
import { restAppOn } from '../helpers/hub-app.ts';
import { deactivateOperator, ensureBootstrapAdmin } from '../../cloud/org/operators.ts';
import type { Role } from '../../cloud/kernel/principal.ts';
import { auditTrail } from '../../cloud/org/audit.ts';
import { ConfigError } from '../../shared/config-env.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { bearer, type ScopeKey } from '../helpers/org.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, key, newCardNumber, newCardUid, rowCounts, useDatabases, testLedger } from './support.ts';

const databases = useDatabases();
const SYSTEM = { type: 'system', id: 'test' } as const;

describe.each(BACKENDS)('REST authentication and scopes on %s', (backend) => {
  const log = capturedLogger();
  const rest = useRestApi(() => databases.open(backend), { logger: log.logger });
  const { send } = rest;

  /** A member registered at a store by that store's manager, with a card (and number) and ¥100 on it. */
  async function memberAt(store: 'xuhui' | 'jingan' | 'tianhe') {
    const token = rest.org.tokens[store].manager;
    const member = (await send('POST', '/members', token, { name: `Member of ${store}` })).json();
    const cardUid = newCardUid();
    const cardNumber = newCardNumber();
    expect((await send('POST', `/members/${member.memberId}/cards`, token, { cardUid, cardNumber })).statusCode).toBe(201);
    expect((await send('POST', `/members/${member.memberId}/topups`, token, { idempotencyKey: key(), amountFen: 10_000 })).statusCode).toBe(201);
    return { memberId: member.memberId as string, cardUid, cardNumber };
  }

  it('refuses requests without a valid token with 401 UNAUTHENTICATED before validating anything, and changes nothing', async () => {
    const { memberId } = await memberAt('xuhui');
    const deactivated = await seedOperatorToDeactivate();
    const topups = `/api/v1/members/${memberId}/topups`;
    const body = { idempotencyKey: key(), amountFen: 100 };
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['no header', {}, /Sign in first/],
      ['basic auth', { authorization: 'Basic dXNlcjpwYXNz' }, /must be "Bearer <operator token>"/],
      ['bearer without token', { authorization: 'Bearer' }, /must be "Bearer <operator token>"/],
      ['unknown token', bearer('mko_' + 'x'.repeat(43)), /not recognised/],
      ['too short to be a token', bearer('abc'), /not recognised/],
      ['deactivated operator', bearer(deactivated), /deactivated/],
    ];
    const before = await rowCounts(rest.db);
    for (const [label, headers, message] of cases) {
      for (const reply of [
        await rest.app.inject({ method: 'POST', url: topups, payload: body, headers }),
        await rest.app.inject({ method: 'POST', url: topups, payload: { amountFen: 'not even valid' }, headers }),
        await rest.app.inject({ method: 'GET', url: `/api/v1/members/${memberId}`, headers }),
        await rest.app.inject({ method: 'GET', url: '/api/v1/no-such-route', headers }),
      ]) {
        expect({ label, status: reply.statusCode, code: reply.json().error.code }).toEqual({ label, status: 401, code: 'UNAUTHENTICATED' });
        expect(reply.json().error.message, label).toMatch(message);
        expect(reply.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  async function seedOperatorToDeactivate(): Promise<string> {
    const token = rest.org.tokens.south.cashier;
    await deactivateOperator(rest.db, rest.org.operatorIds.south.cashier, SYSTEM, 'left the company');
    return token;
  }

  it('keeps /health and /docs public; a signed-in operator gets no WWW-Authenticate', async () => {
    expect((await rest.app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
    expect((await rest.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    const me = await send('GET', '/me', rest.org.tokens.east.manager);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ operatorId: rest.org.operatorIds.east.manager, name: 'east manager', role: 'manager', scope: { level: 'region', id: 'east' } });
    expect(me.headers['www-authenticate']).toBeUndefined();
  });

  it("acceptance: a store's operators reach only their store's members, a region's only its region's, HQ everyone's", async () => {
    const members = { xuhui: await memberAt('xuhui'), jingan: await memberAt('jingan'), tianhe: await memberAt('tianhe') };
    // Which member stores each operator scope reaches.
    const reach: Record<ScopeKey, Array<keyof typeof members>> = {
      hq: ['xuhui', 'jingan', 'tianhe'],
      east: ['xuhui', 'jingan'],
      south: ['tianhe'],
      xuhui: ['xuhui'],
      jingan: ['jingan'],
      tianhe: ['tianhe'],
    };
    const routes: Array<[string, (m: (typeof members)['xuhui'], token: string) => ReturnType<typeof send>, number]> = [
      ['read', (m, t) => send('GET', `/members/${m.memberId}`, t), 200],
      ['statement', (m, t) => send('GET', `/members/${m.memberId}/statement`, t), 200],
      ['by card', (m, t) => send('GET', `/cards/${m.cardUid}/member`, t), 200],
      ['by card number', (m, t) => send('GET', `/card-numbers/${m.cardNumber}/member`, t), 200],
      ['bind card', (m, t) => send('POST', `/members/${m.memberId}/cards`, t, { cardUid: m.cardUid }), 200],
      ['top-up', (m, t) => send('POST', `/members/${m.memberId}/topups`, t, { idempotencyKey: key(), amountFen: 100 }), 201],
      ['payment', (m, t) => send('POST', `/members/${m.memberId}/payments`, t, { idempotencyKey: key(), amountFen: 100 }), 201],
      ['points', (m, t) => send('POST', `/members/${m.memberId}/points-adjustments`, t, { idempotencyKey: key(), points: 5, reason: 'Goodwill' }), 201],
      ['redemption', (m, t) => send('POST', `/members/${m.memberId}/redemptions`, t, { idempotencyKey: key(), points: 1, item: 'Sticker' }), 201],
    ];
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const scope of Object.keys(reach) as ScopeKey[]) {
      for (const [store, member] of Object.entries(members) as Array<[keyof typeof members, (typeof members)['xuhui']]>) {
        for (const [label, call, okStatus] of routes) {
          // Region-scoped operators act for no particular store: their movements name none (settlement shows it unattributed).
          const reply = await call(member, rest.org.tokens[scope].manager);
          outcomes.push(`${scope} → ${store} ${label}: ${reply.statusCode} ${reply.statusCode >= 400 ? reply.json().error.code : ''}`);
          const allowed = reach[scope].includes(store);
          expected.push(`${scope} → ${store} ${label}: ${allowed ? okStatus : 403} ${allowed ? '' : 'FORBIDDEN'}`);
        }
      }
    }
    expect(outcomes).toEqual(expected);
  });

  it('limits member routes by role: technicians see no members, cashiers cannot grant points', async () => {
    const { memberId } = await memberAt('xuhui');
    const byRole = async (role: Role) => ({
      read: (await send('GET', `/members/${memberId}`, rest.org.tokens.xuhui[role])).statusCode,
      topUp: (await send('POST', `/members/${memberId}/topups`, rest.org.tokens.xuhui[role], { idempotencyKey: key(), amountFen: 100 })).statusCode,
      points: (await send('POST', `/members/${memberId}/points-adjustments`, rest.org.tokens.xuhui[role], { idempotencyKey: key(), points: 5, reason: 'x' }))
        .statusCode,
      register: (await send('POST', '/members', rest.org.tokens.xuhui[role], { name: 'New' })).statusCode,
    });
    expect(await byRole('admin')).toEqual({ read: 200, topUp: 201, points: 201, register: 201 });
    expect(await byRole('manager')).toEqual({ read: 200, topUp: 201, points: 201, register: 201 });
    expect(await byRole('cashier')).toEqual({ read: 200, topUp: 201, points: 403, register: 201 });
    expect(await byRole('technician')).toEqual({ read: 403, topUp: 403, points: 403, register: 403 });
    const refused = await send('GET', `/members/${memberId}`, rest.org.tokens.xuhui.technician);
    expect(refused.json()).toEqual({ error: { code: 'FORBIDDEN', message: '此操作需要 admin 或 manager 或 cashier 角色；您的角色是 technician / This needs the role admin or manager or cashier; you are signed in as technician.' } });
  });

  it('registers members at a home store: the operator’s own, or a named one in scope', async () => {
    const homeOf = async (memberId: string) =>
      (await rest.db.query<{ home_store_id: string | null }>('SELECT home_store_id FROM members WHERE id = $1', [memberId])).rows[0]!.home_store_id;
    const atOwn = await send('POST', '/members', rest.org.tokens.jingan.cashier, { name: 'Own store' });
    expect(atOwn.statusCode).toBe(201);
    expect(await homeOf(atOwn.json().memberId)).toBe('sh-jingan');
    const byRegion = await send('POST', '/members', rest.org.tokens.east.cashier, { name: 'Region pick', storeId: 'sh-xuhui' });
    expect(byRegion.statusCode).toBe(201);
    expect(await homeOf(byRegion.json().memberId)).toBe('sh-xuhui');

    const before = await rowCounts(rest.db);
    const refusals: Array<[string, string, object, number, string, RegExp]> = [
      ['another store', rest.org.tokens.jingan.cashier, { name: 'X', storeId: 'sh-xuhui' }, 403, 'FORBIDDEN', /outside your scope \(store "sh-jingan"\)/],
      ['another region', rest.org.tokens.east.cashier, { name: 'X', storeId: 'gz-tianhe' }, 403, 'FORBIDDEN', /outside your scope \(region "east"\)/],
      ['HQ without a store', rest.org.tokens.hq.cashier, { name: 'X' }, 400, 'INVALID_INPUT', /Name the store \(storeId\)/],
      ['unknown store', rest.org.tokens.hq.cashier, { name: 'X', storeId: 'nowhere' }, 404, 'STORE_NOT_FOUND', /nowhere/],
      ['malformed store', rest.org.tokens.hq.cashier, { name: 'X', storeId: 'Not A Code' }, 400, 'VALIDATION_FAILED', /storeId/],
    ];
    for (const [label, token, body, status, code, message] of refusals) {
      const reply = await send('POST', '/members', token, body);
      expect({ label, status: reply.statusCode, code: reply.json().error.code }).toEqual({ label, status, code });
      expect(reply.json().error.message).toMatch(message);
    }
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  it('refuses a movement at a store outside the operator’s scope, even for a member they may serve', async () => {
    const { memberId } = await memberAt('xuhui');
    const before = await rowCounts(rest.db);
    const reply = await send('POST', `/members/${memberId}/topups`, rest.org.tokens.east.cashier, { idempotencyKey: key(), amountFen: 100, storeId: 'gz-tianhe' });
    expect(reply.statusCode).toBe(403);
    expect(await rowCounts(rest.db)).toEqual(before);
  });

  it('attributes every change to the operator who made it', async () => {
    const created = (await send('POST', '/members', rest.org.tokens.xuhui.cashier, { name: 'Audited' })).json();
    await send('POST', `/members/${created.memberId}/topups`, rest.org.tokens.xuhui.cashier, { idempotencyKey: key(), amountFen: 500 });
    const member = await rest.db.query('SELECT created_by_type, created_by_id FROM members WHERE id = $1', [created.memberId]);
    expect(member.rows[0]).toEqual({ created_by_type: 'operator', created_by_id: rest.org.operatorIds.xuhui.cashier });
    const entries = (await send('GET', `/members/${created.memberId}/statement`, rest.org.tokens.xuhui.cashier)).json().entries;
    expect(entries[0].actor).toEqual({ type: 'operator', id: rest.org.operatorIds.xuhui.cashier });
  });

  it('lets only HQ reach a member without a home store (registered before stores existed)', async () => {
    const legacy = await (await testLedger(rest.db)).createMember({ name: 'Legacy', actor: SYSTEM });
    expect((await send('GET', `/members/${legacy.memberId}`, rest.org.tokens.hq.cashier)).statusCode).toBe(200);
    for (const scope of ['east', 'xuhui'] as const) {
      const reply = await send('GET', `/members/${legacy.memberId}`, rest.org.tokens[scope].manager);
      expect(reply.statusCode).toBe(403);
      expect(reply.json().error.message).toMatch(/no home store/);
    }
  });

  it('never logs a token, and names the operator on the request log lines', async () => {
    await send('GET', '/me', rest.org.tokens.hq.admin);
    await send('GET', '/me', 'mko_' + 'y'.repeat(43));
    const logs = log.lines.join('');
    expect(logs).toContain(rest.org.operatorIds.hq.admin);
    expect(logs).not.toContain('y'.repeat(43));
    for (const token of Object.values(rest.org.tokens).flatMap((byRole) => Object.values(byRole))) {
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.slice(4, 20));
    }
  });
});

describe('bootstrap HQ admin (HUB_ADMIN_TOKEN)', () => {
  it('is created at first start, left alone on the same token, re-keyed on a new one; the old token stops working', async () => {
    const db = await databases.open('pglite');
    const app = await restAppOn(db);
    const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
    const first = 'first-bootstrap-token-0123456789';
    const admin = await ensureBootstrapAdmin(db, first);
    expect(admin).toMatchObject({ role: 'admin', scope: { level: 'hq', id: 'hq' }, active: true });
    expect((await ensureBootstrapAdmin(db, first)).operatorId).toBe(admin.operatorId);
    expect((await me(first)).json()).toMatchObject({ operatorId: admin.operatorId, role: 'admin' });

    const second = 'second-bootstrap-token-987654321';
    expect((await ensureBootstrapAdmin(db, second)).operatorId).toBe(admin.operatorId);
    expect((await me(first)).statusCode).toBe(401);
    expect((await me(second)).statusCode).toBe(200);
    expect((await auditTrail(db, admin.operatorId)).map((entry) => [entry.action, entry.actor])).toEqual([
      ['operator_created', { type: 'system', id: 'hub-bootstrap' }],
      ['bootstrap_admin_refreshed', { type: 'system', id: 'hub-bootstrap' }],
    ]);
    const stored = await db.query<{ token_hash: string }>('SELECT token_hash FROM operators');
    expect(JSON.stringify(stored.rows)).not.toContain(second);
    await app.close();
  });

  it('refuses a short, malformed or guessable HUB_ADMIN_TOKEN at configuration time without echoing it', () => {
    const random = randomBytes(32).toString('base64');
    expect(hubConfigFromEnv({ HUB_ADMIN_TOKEN: random }).adminToken).toBe(random);
    // Long enough, well formed, and still guessable: one letter 24 times, a pattern, a phrase.
    for (const weak of ['secret12', 'a'.repeat(24), 'abc'.repeat(9) + '123', 'a-long-enough-admin-token-1234', `${random.slice(0, 30)} x`]) {
      let error: unknown;
      try {
        hubConfigFromEnv({ HUB_ADMIN_TOKEN: weak });
      } catch (caught) {
        error = caught;
      }
      expect(error, weak).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/HUB_ADMIN_TOKEN must be 24 to 200 characters of letters, digits or -._~\+\/= and look random/);
      expect((error as Error).message).not.toContain(weak);
    }
  });

  it('will not make a guessable token the bootstrap admin’s, even when called directly', async () => {
    const db = await databases.open('pglite');
    await expect(ensureBootstrapAdmin(db, 'a'.repeat(24))).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('look random') });
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM operators WHERE bootstrap')).rows[0]!.n).toBe(0);
  });
});

describe('every API route', () => {
  it('except /health refuses an anonymous caller with 401, whichever module defines it', async () => {
    const db = await databases.open('pglite');
    const app = await restAppOn(db);
    const paths = (await app.inject({ method: 'GET', url: '/docs/json' })).json().paths as Record<string, Record<string, unknown>>;
    const answered: string[] = [];
    for (const [path, methods] of Object.entries(paths)) {
      // Any value fills a path parameter: the token check comes before validation.
      const url = path.replace(/\{[^}]+\}/g, '01900000-0000-7000-8000-000000000000');
      for (const method of Object.keys(methods)) {
        const reply = await app.inject({ method: method.toUpperCase() as 'GET', url, ...(method === 'get' ? {} : { payload: {} }) });
        answered.push(`${method.toUpperCase()} ${path} ${reply.statusCode}`);
      }
    }
    expect(answered.length).toBeGreaterThan(20);
    expect(answered.filter((line) => !line.endsWith(' 401'))).toEqual(['GET /api/v1/health 200']);
    await app.close();
  });
});
