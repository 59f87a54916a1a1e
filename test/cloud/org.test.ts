import { describe, expect, it } from 'vitest';
import { auditTrail } from '../../cloud/org/audit.ts';
import { scopeCoversScope, scopeCoversStore } from '../../cloud/kernel/access.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, useDatabases } from './support.ts';

const databases = useDatabases();

describe('scope rules (pure)', () => {
  const store = { storeId: 'sh-xuhui', regionId: 'east' };
  it.each([
    [{ level: 'hq', id: 'hq' }, true],
    [{ level: 'region', id: 'east' }, true],
    [{ level: 'region', id: 'south' }, false],
    [{ level: 'store', id: 'sh-xuhui' }, true],
    [{ level: 'store', id: 'sh-jingan' }, false],
  ] as const)('%o reaches store sh-xuhui (east): %s', (scope, expected) => {
    expect(scopeCoversStore(scope, store)).toBe(expected);
  });

  it.each([
    [{ level: 'hq', id: 'hq' }, { level: 'hq', id: 'hq' }, undefined, true],
    [{ level: 'region', id: 'east' }, { level: 'hq', id: 'hq' }, undefined, false],
    [{ level: 'region', id: 'east' }, { level: 'region', id: 'east' }, undefined, true],
    [{ level: 'region', id: 'east' }, { level: 'region', id: 'south' }, undefined, false],
    [{ level: 'region', id: 'east' }, { level: 'store', id: 'sh-xuhui' }, 'east', true],
    [{ level: 'region', id: 'east' }, { level: 'store', id: 'gz-tianhe' }, 'south', false],
    [{ level: 'store', id: 'sh-xuhui' }, { level: 'store', id: 'sh-xuhui' }, 'east', true],
    [{ level: 'store', id: 'sh-xuhui' }, { level: 'region', id: 'east' }, undefined, false],
  ] as const)('%o covers %o (region %s): %s', (outer, inner, regionId, expected) => {
    expect(scopeCoversScope(outer, inner, regionId)).toBe(expected);
  });
});

describe.each(BACKENDS)('organisation REST on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend));
  const { send } = rest;
  const counts = async () =>
    (
      await rest.db.query<Record<string, number>>(
        `SELECT (SELECT count(*) FROM regions)::int AS regions, (SELECT count(*) FROM stores)::int AS stores,
                (SELECT count(*) FROM operators)::int AS operators, (SELECT count(*) FROM operator_audit)::int AS audit`,
      )
    ).rows[0]!;

  it('lets the HQ admin create regions and stores, audited with actor and reason', async () => {
    const region = await send('POST', '/regions', rest.org.tokens.hq.admin, { regionId: 'north', name: '华北 North', reason: 'Opening Beijing' });
    expect(region.statusCode).toBe(201);
    expect(region.json()).toEqual({ regionId: 'north', name: '华北 North' });
    const store = await send('POST', '/stores', rest.org.tokens.hq.admin, {
      storeId: 'bj-chaoyang',
      regionId: 'north',
      name: '朝阳店 Chaoyang',
      kind: 'franchise',
      reason: 'Franchise contract signed',
    });
    expect(store.statusCode).toBe(201);
    expect(store.json()).toEqual({ storeId: 'bj-chaoyang', regionId: 'north', name: '朝阳店 Chaoyang', kind: 'franchise', timeZone: 'Asia/Shanghai' });
    const urumqi = await send('POST', '/stores', rest.org.tokens.hq.admin, {
      storeId: 'xj-urumqi',
      regionId: 'north',
      name: '乌鲁木齐店 Ürümqi',
      kind: 'direct',
      timeZone: 'Asia/Urumqi',
      reason: 'New direct store',
    });
    expect(urumqi.json().timeZone).toBe('Asia/Urumqi');
    expect(await auditTrail(rest.db, 'bj-chaoyang')).toEqual([
      expect.objectContaining({
        action: 'store_created',
        actor: { type: 'operator', id: rest.org.operatorIds.hq.admin },
        reason: 'Franchise contract signed',
      }),
    ]);
    expect((await send('GET', '/stores', rest.org.tokens.hq.cashier)).json().stores.map((s: { storeId: string }) => s.storeId)).toEqual([
      'bj-chaoyang',
      'gz-tianhe',
      'sh-jingan',
      'sh-xuhui',
      'xj-urumqi',
    ]);
  });

  it('refuses a region or store that exists, a store in no region and a bad time zone, creating nothing', async () => {
    const admin = rest.org.tokens.hq.admin;
    const store = (storeId: string, extra: object = {}) => ({ storeId, regionId: 'east', name: 'Store', kind: 'direct', reason: 'x', ...extra });
    const before = await counts();
    const cases: Array<[string, string, object, number, string]> = [
      ['a region that exists', '/regions', { regionId: 'east', name: 'East again', reason: 'x' }, 409, 'CONFLICT'],
      ['a region with a blank name', '/regions', { regionId: 'blank', name: ' ', reason: 'x' }, 400, 'INVALID_INPUT'],
      ['a store that exists', '/stores', store('sh-xuhui'), 409, 'CONFLICT'],
      ['a store in no region', '/stores', store('nowhere-1', { regionId: 'nowhere' }), 404, 'REGION_NOT_FOUND'],
      ['a store with a bad time zone', '/stores', store('sh-new', { timeZone: 'Mars/Base' }), 400, 'INVALID_INPUT'],
    ];
    for (const [label, url, body, status, code] of cases) {
      const reply = await send('POST', url, admin, body);
      expect([label, reply.statusCode, reply.json().error?.code]).toEqual([label, status, code]);
      expect(reply.json().error.message, label).toMatch(/\p{Script=Han}.* \/ \S/u);
    }
    expect(await counts()).toEqual(before);
  });

  it('keeps region and store admins inside their scope, and non-admins out', async () => {
    const store = (storeId: string, regionId: string) => ({ storeId, regionId, name: 'New', kind: 'direct', reason: 'Expansion' });
    expect((await send('POST', '/stores', rest.org.tokens.east.admin, store('sh-pudong', 'east'))).statusCode).toBe(201);
    const before = await counts();
    const refusals: Array<[string, string, string, object, number]> = [
      ['region admin, other region', rest.org.tokens.east.admin, '/stores', store('gz-panyu', 'south'), 403],
      ['region admin, new region', rest.org.tokens.east.admin, '/regions', { regionId: 'west', name: 'West', reason: 'x' }, 403],
      ['store admin, new store', rest.org.tokens.xuhui.admin, '/stores', store('sh-minhang', 'east'), 403],
      ['HQ manager, new region', rest.org.tokens.hq.manager, '/regions', { regionId: 'west', name: 'West', reason: 'x' }, 403],
      ['HQ technician, new store', rest.org.tokens.hq.technician, '/stores', store('sh-minhang', 'east'), 403],
      ['duplicate store', rest.org.tokens.hq.admin, '/stores', store('sh-xuhui', 'east'), 409],
      ['unknown region', rest.org.tokens.hq.admin, '/stores', store('xx-nowhere', 'nowhere'), 404],
      ['bad time zone', rest.org.tokens.hq.admin, '/stores', { ...store('sh-minhang', 'east'), timeZone: 'Mars/Olympus' }, 400],
      ['bad kind', rest.org.tokens.hq.admin, '/stores', { ...store('sh-minhang', 'east'), kind: 'partner' }, 400],
      ['no reason', rest.org.tokens.hq.admin, '/regions', { regionId: 'west', name: 'West' }, 400],
      ['upper-case code', rest.org.tokens.hq.admin, '/regions', { regionId: 'West', name: 'West', reason: 'x' }, 400],
      ['extra field', rest.org.tokens.hq.admin, '/regions', { regionId: 'west', name: 'West', reason: 'x', hq: true }, 400],
    ];
    for (const [label, token, url, body, status] of refusals) {
      const reply = await send('POST', url, token, body);
      expect({ label, status: reply.statusCode }).toEqual({ label, status });
      expect(Object.keys(reply.json())).toEqual(['error']);
    }
    expect(await counts()).toEqual(before);
  });

  it('creates an operator whose token is shown once, works at once, and is stored only as a hash', async () => {
    const created = await send('POST', '/operators', rest.org.tokens.east.admin, {
      name: '王五 Wang Wu',
      role: 'cashier',
      scope: { level: 'store', id: 'sh-jingan' },
      reason: 'New hire',
    });
    expect(created.statusCode).toBe(201);
    const { operator, token } = created.json();
    expect(operator).toMatchObject({ name: '王五 Wang Wu', role: 'cashier', scope: { level: 'store', id: 'sh-jingan' }, active: true });
    expect(token).toMatch(/^mko_[A-Za-z0-9_-]{43}$/);
    expect((await send('GET', '/me', token)).json()).toMatchObject({ operatorId: operator.operatorId, role: 'cashier' });

    const listed = (await send('GET', '/operators', rest.org.tokens.east.admin)).json().operators;
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(listed.find((o: { operatorId: string }) => o.operatorId === operator.operatorId)).toEqual(operator);
    const rows = await rest.db.query('SELECT * FROM operators WHERE id = $1', [operator.operatorId]);
    expect(JSON.stringify(rows.rows)).not.toContain(token);
    expect(await auditTrail(rest.db, operator.operatorId)).toEqual([
      expect.objectContaining({ action: 'operator_created', actor: { type: 'operator', id: rest.org.operatorIds.east.admin }, reason: 'New hire' }),
    ]);
  });

  it('lists operators within the admin’s scope only', async () => {
    const scopesSeenBy = async (token: string) =>
      new Set((await send('GET', '/operators', token)).json().operators.map((o: { scope: { id: string } }) => o.scope.id));
    expect(await scopesSeenBy(rest.org.tokens.east.admin)).toEqual(new Set(['east', 'sh-xuhui', 'sh-jingan']));
    expect(await scopesSeenBy(rest.org.tokens.tianhe.admin)).toEqual(new Set(['gz-tianhe']));
    expect((await scopesSeenBy(rest.org.tokens.hq.admin)).size).toBe(6);
    expect((await send('GET', '/operators', rest.org.tokens.hq.manager)).statusCode).toBe(403);
    expect((await send('GET', '/regions', rest.org.tokens.xuhui.cashier)).json()).toEqual({ regions: [{ regionId: 'east', name: '华东 East' }] });
  });

  it('refuses operators outside the admin’s scope or malformed, creating nothing', async () => {
    const body = (level: string, id: string, role = 'cashier') => ({ name: 'X', role, scope: { level, id }, reason: 'x' });
    const before = await counts();
    const refusals: Array<[string, string, object, number, string]> = [
      ['region admin → other region store', rest.org.tokens.east.admin, body('store', 'gz-tianhe'), 403, 'FORBIDDEN'],
      ['region admin → HQ', rest.org.tokens.east.admin, body('hq', 'hq', 'admin'), 403, 'FORBIDDEN'],
      ['region admin → other region', rest.org.tokens.east.admin, body('region', 'south'), 403, 'FORBIDDEN'],
      ['store admin → its region', rest.org.tokens.xuhui.admin, body('region', 'east'), 403, 'FORBIDDEN'],
      ['store admin → other store', rest.org.tokens.xuhui.admin, body('store', 'sh-jingan'), 403, 'FORBIDDEN'],
      ['manager', rest.org.tokens.hq.manager, body('store', 'sh-xuhui'), 403, 'FORBIDDEN'],
      ['unknown store', rest.org.tokens.hq.admin, body('store', 'nowhere'), 404, 'STORE_NOT_FOUND'],
      ['unknown region', rest.org.tokens.hq.admin, body('region', 'nowhere'), 404, 'REGION_NOT_FOUND'],
      ['hq with another id', rest.org.tokens.hq.admin, body('hq', 'east'), 400, 'INVALID_INPUT'],
      ['unknown role', rest.org.tokens.hq.admin, body('store', 'sh-xuhui', 'owner'), 400, 'VALIDATION_FAILED'],
      ['unknown level', rest.org.tokens.hq.admin, body('country', 'cn'), 400, 'VALIDATION_FAILED'],
      ['no reason', rest.org.tokens.hq.admin, { name: 'X', role: 'cashier', scope: { level: 'hq', id: 'hq' } }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [label, token, payload, status, code] of refusals) {
      const reply = await send('POST', '/operators', token, payload);
      expect({ label, status: reply.statusCode, code: reply.json().error.code }).toEqual({ label, status, code });
    }
    expect(await counts()).toEqual(before);
    // A store admin may staff their own store.
    expect((await send('POST', '/operators', rest.org.tokens.xuhui.admin, body('store', 'sh-xuhui'))).statusCode).toBe(201);
  });

  it('deactivates an operator in scope: their token stops at once; audited; refusals change nothing', async () => {
    const target = rest.org.operatorIds.jingan.technician;
    const token = rest.org.tokens.jingan.technician;
    expect((await send('POST', `/operators/${target}/deactivation`, rest.org.tokens.south.admin, { reason: 'x' })).statusCode).toBe(403);
    expect((await send('POST', `/operators/${target}/deactivation`, rest.org.tokens.east.manager, { reason: 'x' })).statusCode).toBe(403);
    expect((await send('POST', `/operators/${target}/deactivation`, rest.org.tokens.east.admin, {})).statusCode).toBe(400);
    expect((await send('GET', '/me', token)).statusCode).toBe(200);

    const done = await send('POST', `/operators/${target}/deactivation`, rest.org.tokens.east.admin, { reason: 'Contract ended' });
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ operatorId: target, active: false });
    expect((await send('GET', '/me', token)).json().error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/deactivated/) });
    expect((await auditTrail(rest.db, target)).map((entry) => [entry.action, entry.actor.id, entry.reason])).toEqual([
      ['operator_created', 'test-seed', 'test chain'],
      ['operator_deactivated', rest.org.operatorIds.east.admin, 'Contract ended'],
    ]);

    const again = await send('POST', `/operators/${target}/deactivation`, rest.org.tokens.east.admin, { reason: 'again' });
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'CONFLICT']);
    const self = await send('POST', `/operators/${rest.org.operatorIds.east.admin}/deactivation`, rest.org.tokens.east.admin, { reason: 'x' });
    expect([self.statusCode, self.json().error.code]).toEqual([409, 'CONFLICT']);
    const unknown = await send('POST', '/operators/01900000-0000-7000-8000-000000000000/deactivation', rest.org.tokens.hq.admin, { reason: 'x' });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'OPERATOR_NOT_FOUND']);
    await expect(rest.db.query('DELETE FROM operator_audit')).rejects.toThrow(/append-only/);
  });
});
