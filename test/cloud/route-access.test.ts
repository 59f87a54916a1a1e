import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OperatorAccess, ScopeSource } from '../../cloud/kernel/access.ts';
import type { DeclaredRoute } from '../../cloud/kernel/http-app.ts';
import { ROLES, type Role, type ScopeLevel } from '../../cloud/kernel/principal.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import type { ScopeKey } from '../helpers/org.ts';
import { key, newCardNumber, newCardUid, useDatabases } from './support.ts';

/**
 * The route walk: every route the hub registers — every module's, the fleet's and the device routes, the pages —
 * declares who may call it, and the one access hook holds to it. For each route: no token is 401; each role it
 * does not admit is 403; each level it does not admit is 403; and each scope source it declares, pointed at
 * something of store sh-xuhui by an operator of gz-tianhe (another region), is 403.
 */

const databases = useDatabases();

/** What a route may be pointed at, all of store sh-xuhui (region east). */
interface Fixtures {
  memberId: string;
  cardUid: string;
  cardNumber: string;
  txId: string;
  checkoutId: string;
  voucherCode: string;
  couponRedemptionTxId: string;
  templateId: string;
  itemId: string;
  operatorId: string;
}

const OUTSIDER_STORE: ScopeKey = 'tianhe';
const OUTSIDER_REGION: ScopeKey = 'south';
const STORE_A = 'sh-xuhui';

describe('every route declares its access, and the access hook enforces it', () => {
  const rest = useRestApi(() => databases.open('pglite'));
  let fixtures: Fixtures;
  let routes: readonly DeclaredRoute[];

  beforeAll(async () => {
    routes = rest.app.declaredRoutes;
    fixtures = await fixturesOfStoreA();
  });

  async function created(reply: Promise<LightMyRequestResponse>): Promise<Record<string, any>> {
    const answered = await reply;
    expect(answered.statusCode, answered.body).toBeLessThan(300);
    return answered.json();
  }

  async function fixturesOfStoreA(): Promise<Fixtures> {
    const { tokens, operatorIds } = rest.org;
    const manager = tokens.xuhui.manager;
    const member = await created(rest.send('POST', '/members', manager, { name: '路由 Walk' }));
    const cardUid = newCardUid();
    const cardNumber = newCardNumber();
    await created(rest.send('POST', `/members/${member.memberId}/cards`, manager, { cardUid, cardNumber }));
    const topUp = await created(rest.send('POST', `/members/${member.memberId}/topups`, manager, { idempotencyKey: key(), amountFen: 50_000 }));
    await created(rest.send('POST', `/members/${member.memberId}/points-adjustments`, manager, { idempotencyKey: key(), points: 10_000, reason: 'walk' }));
    const checkout = await created(
      rest.send('POST', '/checkout', tokens.xuhui.cashier, {
        idempotencyKey: key(), memberId: member.memberId, storeId: STORE_A,
        lines: [{ sku: 'tea', category: 'drinks', unitPriceFen: 1_000, quantity: 1 }], payment: { cashFen: 1_000 },
      }),
    );
    const item = await created(
      rest.send('POST', '/catalog/items', tokens.hq.manager, {
        kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 100 }, voucherValidDays: 30, stock: 10, reason: 'walk',
      }),
    );
    const redeemed = await created(rest.send('POST', '/catalog/redemptions', tokens.xuhui.cashier, { idempotencyKey: key(), memberId: member.memberId, itemId: item.id }));
    const template = await created(
      rest.send('POST', '/coupon-templates', manager, {
        nameZh: '满100减20', nameEn: '¥20 off ¥100', offer: { kind: 'amount_off', amountOffFen: 2_000 },
        conditions: { minSpendFen: 10_000, storeIds: [STORE_A] }, reason: 'walk',
      }),
    );
    const couponItem = await created(
      rest.send('POST', '/catalog/items', tokens.hq.manager, {
        kind: 'coupon', nameZh: '满减券', nameEn: 'Coupon', couponTemplateId: template.templateId, price: { kind: 'points', points: 100 },
        voucherValidDays: 30, stock: 10, reason: 'walk',
      }),
    );
    const couponRedemption = await created(
      rest.send('POST', '/catalog/redemptions', tokens.xuhui.cashier, { idempotencyKey: key(), memberId: member.memberId, itemId: couponItem.id }),
    );
    return {
      memberId: member.memberId,
      cardUid,
      cardNumber,
      txId: topUp.txId,
      checkoutId: checkout.receipt.checkoutId,
      voucherCode: redeemed.voucher.code,
      couponRedemptionTxId: couponRedemption.txId,
      templateId: template.templateId,
      itemId: item.id,
      operatorId: operatorIds.xuhui.cashier,
    };
  }

  /** The value of store A's thing that a scope source (or a path parameter) names. */
  function valueFor(names: string, field: string): unknown {
    const byName: Record<string, unknown> = {
      member: fixtures.memberId,
      store: STORE_A,
      card: fixtures.cardUid,
      'card number': fixtures.cardNumber,
      transaction: fixtures.txId,
      checkout: fixtures.checkoutId,
      voucher: fixtures.voucherCode,
      'coupon redemption': fixtures.couponRedemptionTxId,
      'coupon template': fixtures.templateId,
      'coupon template stores': field === 'definition' ? { conditions: { storeIds: [STORE_A] } } : { storeIds: [STORE_A] },
      operator: fixtures.operatorId,
      'operator scope': { level: 'store', id: STORE_A },
      region: 'east',
    };
    if (!(names in byName)) throw new Error(`the route walk has no store-A value for "${names}" (${field}): add one`);
    return byName[names];
  }

  /** Path parameters that name no scope: any well-formed value will do (access is checked before the handler). */
  const PLAIN_PARAMS: Record<string, () => string> = {
    itemId: () => fixtures.itemId,
    templateId: () => fixtures.templateId,
    version: () => '1',
    deviceId: () => 'kiosk-walk-01',
  };

  const PARAM_NAMES: Record<string, string> = {
    memberId: 'member',
    cardUid: 'card',
    cardNumber: 'card number',
    txId: 'transaction',
    checkoutId: 'checkout',
    code: 'voucher',
    operatorId: 'operator',
  };

  /** The route's URL with every path parameter filled with store A's things. */
  function urlOf(route: DeclaredRoute, sources: readonly ScopeSource[]): string {
    return route.url.replace(/:([A-Za-z]+)/g, (_match, param: string) => {
      const source = sources.find((s) => s.part === 'params' && s.field === param);
      const value = source ? valueFor(source.names, param) : PLAIN_PARAMS[param]?.() ?? valueFor(PARAM_NAMES[param] ?? param, param);
      return encodeURIComponent(String(value));
    });
  }

  function call(route: DeclaredRoute, token: string | undefined, url: string, body?: object) {
    const method = route.method as 'GET' | 'POST' | 'PUT' | 'DELETE';
    const withBody = method !== 'GET';
    return rest.app.inject({
      method,
      url,
      ...(withBody ? { payload: body ?? {} } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }

  const operatorRoutes = () => routes.filter((route): route is DeclaredRoute & { access: OperatorAccess } => !('public' in route.access));
  const sourcesOf = (access: OperatorAccess): readonly ScopeSource[] => (Array.isArray(access.scope) ? (access.scope as readonly ScopeSource[]) : []);

  it('has a declaration on every route: each admits some role, and names its scope sources or why it has none', () => {
    expect(routes.length).toBeGreaterThan(60);
    const described = routes.map((route) => {
      const { access } = route;
      if ('public' in access) return `${route.method} ${route.url}: public (${access.public})`;
      const scope = Array.isArray(access.scope) ? (access.scope as readonly ScopeSource[]).map((s) => `${s.part}.${s.field} (${s.names})`).join(', ') : `none: ${(access.scope as { none: string }).none}`;
      return `${route.method} ${route.url}: ${access.roles.join('/')}${access.levels ? ` at ${access.levels.join('/')}` : ''}; scope ${scope}`;
    });
    for (const line of described) expect(line).not.toMatch(/: ;|\(\)|none: $/);
    // The public ones, and nothing else.
    expect(routes.filter((route) => 'public' in route.access).map((route) => `${route.method} ${route.url}`).sort()).toEqual([
      'GET /api/v1/health',
      'GET /dashboard',
    ]);
    // The fleet, device and dashboard routes are among them (they used to be guarded by URL prefix).
    for (const path of ['/api/v1/fleet', '/api/v1/fleet/stream', '/api/v1/devices/:deviceId/commands', '/api/v1/devices/:deviceId/config']) {
      expect(routes.some((route) => route.url === path), path).toBe(true);
    }
  });

  it('refuses every operator route without a token with 401', async () => {
    const answered: string[] = [];
    for (const route of operatorRoutes()) {
      const reply = await call(route, undefined, urlOf(route, sourcesOf(route.access)));
      answered.push(`${route.method} ${route.url} ${reply.statusCode} ${reply.json().error?.code}`);
    }
    expect(answered.filter((line) => !line.endsWith(' 401 UNAUTHENTICATED'))).toEqual([]);
  });

  it('refuses every role a route does not admit with 403, before reading the request', async () => {
    const answered: string[] = [];
    for (const route of operatorRoutes()) {
      for (const role of ROLES.filter((r) => !route.access.roles.includes(r))) {
        const reply = await call(route, rest.org.tokens.hq[role], urlOf(route, sourcesOf(route.access)), { junk: true });
        answered.push(`${route.method} ${route.url} as ${role}: ${reply.statusCode} ${reply.json().error?.code}`);
      }
    }
    expect(answered.length).toBeGreaterThan(50);
    expect(answered.filter((line) => !line.endsWith(': 403 FORBIDDEN'))).toEqual([]);
  });

  it('refuses every level a route does not admit with 403', async () => {
    const tokenAt: Record<ScopeLevel, ScopeKey> = { hq: 'hq', region: 'east', store: 'xuhui' };
    const answered: string[] = [];
    for (const route of operatorRoutes().filter((r) => r.access.levels)) {
      const role = route.access.roles[0] as Role;
      for (const level of (['hq', 'region', 'store'] as const).filter((l) => !route.access.levels!.includes(l))) {
        const reply = await call(route, rest.org.tokens[tokenAt[level]][role], urlOf(route, sourcesOf(route.access)), {});
        answered.push(`${route.method} ${route.url} at ${level}: ${reply.statusCode} ${reply.json().error?.code}`);
      }
    }
    expect(answered.length).toBeGreaterThan(8);
    expect(answered.filter((line) => !line.endsWith(': 403 FORBIDDEN'))).toEqual([]);
  });

  it('refuses each scope source pointed at another store’s thing with 403, for every route that has one', async () => {
    const answered: string[] = [];
    for (const route of operatorRoutes()) {
      const sources = sourcesOf(route.access);
      const role = route.access.roles[0] as Role;
      // An operator of another region, at a level the route admits.
      const outsider = route.access.levels?.includes('store') === false ? OUTSIDER_REGION : OUTSIDER_STORE;
      for (const source of sources) {
        const body: Record<string, unknown> = {};
        if (source.part === 'body') body[source.field] = valueFor(source.names, source.field);
        let url = urlOf(route, sources.filter((s) => s.part === 'params'));
        if (source.part === 'query') url += `?${source.field}=${encodeURIComponent(String(valueFor(source.names, source.field)))}`;
        const reply = await call(route, rest.org.tokens[outsider][role], url, body);
        answered.push(`${route.method} ${route.url} via ${source.part}.${source.field}: ${reply.statusCode} ${reply.json().error?.code}`);
      }
    }
    expect(answered.length).toBeGreaterThan(40);
    expect(answered.filter((line) => !line.endsWith(': 403 FORBIDDEN'))).toEqual([]);
  });
});
