import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { key, useDatabases } from '../cloud/support.ts';
import { waitFor } from '../helpers/events.ts';
import { hubDataDir, spawnHub, type HubProcess } from '../helpers/hub-process.ts';
import { bearer, seedOrg, type SeededOrg } from '../helpers/org.ts';

/**
 * The hub as its own process on PostgreSQL, killed with SIGKILL after a posting wrote its legs and while its
 * owner's effect waits (a lock this test holds): the redemption (points taken, then the stock and the voucher)
 * and the refund through the generic route (points back, then the catalog's reverser: voucher refunded, unit
 * back in stock). Either half alone would be money without goods or goods without money: after the kill there
 * is neither, and the same request on the restarted hub does both, once.
 */
describe('the hub killed with SIGKILL between a posting and its effect', () => {
  const databases = useDatabases();
  let databaseUrl: string;
  let db: Database;
  let org: SeededOrg;
  let dataDir: Awaited<ReturnType<typeof hubDataDir>>;
  let hub: HubProcess | undefined;
  let memberId: string;
  let itemId: string;

  const call = async (method: 'GET' | 'POST', path: string, token: string, body?: object) => {
    const response = await fetch(`${hub!.apiUrl}${path}`, {
      method,
      headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };

  /** What the member, the item and the ledger hold now, read straight from the database. */
  async function state() {
    const { rows } = await db.query<{ points: number; stock: number; vouchers: string[]; transactions: string[]; refunds: number; keys: number }>(
      `SELECT (SELECT balance::int FROM accounts WHERE member_id = $1 AND kind = 'points') AS points,
              (SELECT stock FROM catalog_items WHERE id = $2) AS stock,
              (SELECT coalesce(array_agg(status ORDER BY issued_at), '{}') FROM vouchers WHERE member_id = $1) AS vouchers,
              (SELECT coalesce(array_agg(kind ORDER BY created_at), '{}') FROM ledger_transactions WHERE member_id = $1 AND kind IN ('points_redemption', 'refund')) AS transactions,
              (SELECT count(*)::int FROM ledger_refunds) AS refunds,
              (SELECT count(*)::int FROM idempotency_keys WHERE member_id = $1) AS keys`,
      [memberId, itemId],
    );
    return rows[0]!;
  }

  /**
   * Sends `request` while a transaction of this test holds `lock`, waits until the hub's statement `blocked`
   * (a pattern of pg_stat_activity.query) waits on that lock, kills the hub, lets go, and waits until the
   * killed hub's backend has ended (its open transaction rolled back). pg_stat_activity is read outside the
   * holding transaction: inside one, PostgreSQL shows the snapshot taken at its first read.
   */
  async function killWhileBlocked(lock: string, lockParams: unknown[], blocked: string, request: () => Promise<unknown>): Promise<void> {
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(lock, lockParams);
      const pending = request().catch(() => 'connection cut');
      const waiting = await waitFor(
        async () => {
          const { rows } = await db.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active' AND query LIKE $1`,
            [blocked],
          );
          return rows[0]?.pid;
        },
        { timeoutMs: 60_000, what: `the hub's "${blocked}" to wait on the test's lock` },
      );
      await hub!.kill9();
      expect(await pending).toBe('connection cut');
      await holder.query('ROLLBACK');
      await waitFor(
        async () => {
          const { rows } = await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [waiting]);
          return rows.length === 0 || undefined;
        },
        { timeoutMs: 60_000, what: "the killed hub's database session to end" },
      );
    } finally {
      await holder.end();
    }
  }

  beforeAll(async () => {
    databaseUrl = await databases.postgresUrl();
    db = await openDatabase({ url: databaseUrl });
    org = await seedOrg(db);
    dataDir = await hubDataDir();
    hub = await spawnHub(databaseUrl, dataDir.path);
    const item = await call('POST', '/catalog/items', org.tokens.hq.manager, {
      kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 500 }, voucherValidDays: 30, stock: 5, reason: 'spring catalog',
    });
    expect(item.status).toBe(201);
    itemId = item.json.id;
    const member = await call('POST', '/members', org.tokens.xuhui.manager, { name: 'Kill Nine' });
    expect(member.status).toBe(201);
    memberId = member.json.memberId;
    const points = await call('POST', `/members/${memberId}/points-adjustments`, org.tokens.xuhui.manager, { idempotencyKey: key(), points: 2_000, reason: 'test points' });
    expect(points.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await hub?.stop();
    await db?.close();
    await dataDir?.remove();
  });

  it('a redemption: killed after the points were taken, before the voucher was written — neither; retried — both, once', async () => {
    const before = await state();
    const redemption = { idempotencyKey: key('redeem'), memberId, itemId };
    await killWhileBlocked('LOCK TABLE vouchers IN SHARE MODE', [], 'INSERT INTO vouchers%', () =>
      call('POST', '/catalog/redemptions', org.tokens.xuhui.cashier, redemption),
    );
    expect(await state()).toEqual(before);

    hub = await spawnHub(databaseUrl, dataDir.path);
    const retried = await call('POST', '/catalog/redemptions', org.tokens.xuhui.cashier, redemption);
    expect(retried.status).toBe(201);
    expect(await state()).toEqual({ ...before, points: 1_500, stock: 4, vouchers: ['issued'], transactions: ['points_redemption'], keys: before.keys + 1 });
    const replay = await call('POST', '/catalog/redemptions', org.tokens.xuhui.cashier, redemption);
    expect([replay.status, replay.json.voucher.code]).toEqual([200, retried.json.voucher.code]);
  }, 240_000);

  it("a refund through the generic route: killed after the points came back, before the catalog's reverser — neither; retried — both, once", async () => {
    const before = await state();
    const { rows } = await db.query<{ id: string; ledger_tx_id: string }>('SELECT id, ledger_tx_id FROM vouchers WHERE member_id = $1', [memberId]);
    const voucher = rows[0]!;
    const refund = { idempotencyKey: key('refund'), reason: 'changed mind' };
    await killWhileBlocked('SELECT 1 FROM vouchers WHERE id = $1 FOR UPDATE', [voucher.id], 'UPDATE vouchers SET status%', () =>
      call('POST', `/transactions/${voucher.ledger_tx_id}/refunds`, org.tokens.xuhui.manager, refund),
    );
    expect(await state()).toEqual(before);

    hub = await spawnHub(databaseUrl, dataDir.path);
    const retried = await call('POST', `/transactions/${voucher.ledger_tx_id}/refunds`, org.tokens.xuhui.manager, refund);
    expect(retried.status).toBe(201);
    expect(await state()).toEqual({
      ...before,
      points: 2_000,
      stock: 5,
      vouchers: ['refunded'],
      transactions: ['points_redemption', 'refund'],
      refunds: before.refunds + 1,
      keys: before.keys + 1,
    });
  }, 240_000);
});
