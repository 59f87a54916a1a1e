import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redeem } from '../../cloud/catalog/redeem.ts';
import type { CatalogRules } from '../../cloud/catalog/rules.ts';
import { VoucherKeyError, loadVoucherSigningKey, parseVoucherSigningKey } from '../../cloud/catalog/signing-key.ts';
import { expireVouchers, refundVoucher, writeOffVoucher } from '../../cloud/catalog/vouchers.ts';
import { expireCoupons } from '../../cloud/coupons/expiry-job.ts';
import type { Database } from '../../cloud/db/database.ts';
import { restAppOn } from '../helpers/hub-app.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { createLogger } from '../../shared/logger.ts';
import type { BudgetCap } from '../../shared/rules/budget.ts';
import { DEFAULT_PROGRAM_RULES } from '../../shared/rules/program.ts';
import { DEFAULT_TIER_RULES } from '../../shared/rules/tiers.ts';
import { VOUCHER_CODE_ALPHABET, normalizeVoucherCode, verifyVoucher } from '../../shared/rules/voucher.ts';
import { capturedLogger } from '../helpers/captured-logger.ts';
import { bearer, seedOrg, type SeededOrg } from '../helpers/org.ts';
import { BACKENDS, expectLedgerConsistent, key, useDatabases, testLedger } from './support.ts';

const databases = useDatabases();

// The hub reads its voucher key from HUB_VOUCHER_SIGNING_KEY (loadVoucherSigningKey, tested below) and hands it to the API; the tests sign and verify with the same one.
const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const voucherKey = parseVoucherSigningKey(PEM);
// The default program has no spend caps, so redemptions here are not limited by a points budget unless a test says so.
const rules: CatalogRules = { tiers: DEFAULT_TIER_RULES, spendingOrder: 'principal_first', budgets: DEFAULT_PROGRAM_RULES.budgets };
const SYSTEM: Actor = { type: 'system', id: 'catalog-test' };
const XUHUI = 'sh-xuhui';
const JINGAN = 'sh-jingan';

interface World {
  db: Database;
  app: FastifyInstance;
  org: SeededOrg;
  ledger: Ledger;
}

async function openWorld(backend: (typeof BACKENDS)[number]): Promise<World> {
  const db = await databases.open(backend);
  const org = await seedOrg(db);
  const app = await restAppOn(db, { logger: createLogger('catalog-test'), voucherKey });
  return { db, app, org, ledger: (await testLedger(db)) };
}

function client(world: World) {
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, token: string, payload?: object) =>
    world.app.inject({ method, url: `/api/v1${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });
  const tokens = world.org.tokens;
  return {
    call,
    /** An item defined by an HQ manager. */
    async item(overrides: Record<string, unknown> = {}) {
      const reply = await call('POST', '/catalog/items', tokens.hq.manager, {
        kind: 'goods',
        nameZh: '拿铁',
        nameEn: 'Latte',
        price: { kind: 'points', points: 500 },
        voucherValidDays: 30,
        stock: 10,
        reason: 'spring catalog',
        ...overrides,
      });
      expect(reply.statusCode, reply.body).toBe(201);
      return reply.json() as { id: string; version: number; stock: number | null };
    },
    async member({ points = 10_000, storedFen = 0, home = XUHUI } = {}) {
      const member = await world.ledger.createMember({ name: '张三丰', phone: '13812345678', homeStoreId: home, actor: SYSTEM });
      if (points > 0) await world.ledger.adjustPoints({ idempotencyKey: key('pts'), memberId: member.memberId, points, reason: 'test points', actor: SYSTEM });
      if (storedFen > 0) await world.ledger.topUpCash({ idempotencyKey: key('top'), memberId: member.memberId, amountFen: storedFen, actor: SYSTEM });
      return member.memberId;
    },
    redeem(memberId: string, itemId: string, token = tokens.xuhui.cashier, idempotencyKey = key('redeem'), storeId?: string) {
      return call('POST', '/catalog/redemptions', token, { idempotencyKey, memberId, itemId, ...(storeId ? { storeId } : {}) });
    },
  };
}

async function counts(db: Database) {
  const { rows } = await db.query<{ vouchers: number; redemptions: number; postings: number; stock: number; audit: number }>(
    `SELECT (SELECT count(*)::int FROM vouchers) AS vouchers,
            (SELECT count(*)::int FROM ledger_transactions WHERE kind = 'points_redemption') AS redemptions,
            (SELECT count(*)::int FROM postings) AS postings,
            (SELECT coalesce(sum(stock), 0)::int FROM catalog_items) + (SELECT coalesce(sum(stock), 0)::int FROM catalog_store_stock) AS stock,
            (SELECT count(*)::int FROM catalog_item_audit) AS audit`,
  );
  return rows[0]!;
}

/** The catalog rules with only these 'spend' caps (Shanghai calendar). */
function withSpendCaps(...caps: Array<Pick<BudgetCap, 'scope' | 'period' | 'limitPoints'>>): CatalogRules {
  return { ...rules, budgets: { timeZone: 'Asia/Shanghai', alertPercents: [80, 100], caps: caps.map((cap) => ({ ...cap, direction: 'spend' })) } };
}

/** Points a member or store has spent against its budget in a period ('YYYY-MM-DD' or 'YYYY-MM'). */
async function spendUsed(db: Database, subjectId: string, periodKey: string): Promise<number> {
  const { rows } = await db.query<{ used: string | number }>(
    `SELECT used FROM points_budget_usage WHERE subject_id = $1 AND direction = 'spend' AND period_key = $2`,
    [subjectId, periodKey],
  );
  return Number(rows[0]?.used ?? 0);
}

const codeOf = (reply: LightMyRequestResponse) => (reply.json() as { error: { code: string } }).error.code;

describe('voucher signing key', () => {
  it('comes from HUB_VOUCHER_SIGNING_KEY; the log names the key id, never the key', async () => {
    const { lines, logger } = capturedLogger();
    const key = await loadVoucherSigningKey({ pem: PEM, dataDir: '/nonexistent', logger });
    expect(key.keyId).toBe(voucherKey.keyId);
    expect(lines.join('')).toContain(key.keyId);
    expect(lines.join('')).not.toContain('PRIVATE KEY');
    expect(lines.join('')).not.toContain(PEM.split('\n')[1]);
  });

  it.each([
    ['not a key', 'hello'],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
  ])('refuses %s without repeating it', async (_label, pem) => {
    const error = await loadVoucherSigningKey({ pem }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VoucherKeyError);
    expect((error as Error).message).toMatch(/^HUB_VOUCHER_SIGNING_KEY (is not a PEM private key|must be an Ed25519 key)/);
    expect((error as Error).message).not.toContain(pem.split('\n')[1] ?? pem);
  });

  it('without it: a development key is created once in the data directory (owner-only) and reused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'voucher-key-'));
    try {
      const { lines, logger } = capturedLogger();
      // Hubs starting together on one data directory all end up with the one key, never a half-written file.
      const [first, ...concurrent] = await Promise.all([
        loadVoucherSigningKey({ dataDir, logger }),
        ...Array.from({ length: 8 }, () => loadVoucherSigningKey({ dataDir })),
      ]);
      expect(concurrent.map((key) => key.keyId)).toEqual(concurrent.map(() => first.keyId));
      const file = join(dataDir, 'voucher-signing-key.pem');
      expect(await readdir(dataDir)).toEqual(['voucher-signing-key.pem']);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await loadVoucherSigningKey({ dataDir })).keyId).toBe(first.keyId);
      expect(lines.join('')).not.toContain((await readFile(file, 'utf8')).split('\n')[1]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('without either: a key for this process only', async () => {
    const [a, b] = await Promise.all([loadVoucherSigningKey({}), loadVoucherSigningKey({})]);
    expect(a.keyId).not.toBe(b.keyId);
  });
});

describe('catalog on pglite', () => {
  let world: World;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    world = await openWorld('pglite');
    api = client(world);
  });
  afterAll(() => world.app.close());
  const points = async (memberId: string) => (await world.ledger.getMember(memberId)).balances.points;

  describe('items', () => {
    it('HQ managers define items; every change is audited with actor and reason', async () => {
      const item = await api.item();
      expect(item).toMatchObject({ stock: 10, version: 1, active: true, perStoreStock: false, storeStock: [] });
      const updated = await api.call('PUT', `/catalog/items/${item.id}`, world.org.tokens.hq.admin, {
        kind: 'goods',
        nameZh: '大杯拿铁',
        nameEn: 'Large latte',
        price: { kind: 'points', points: 600 },
        voucherValidDays: 14,
        expectedVersion: 1,
        reason: 'bigger cup',
      });
      expect(updated.statusCode, updated.body).toBe(200);
      expect(updated.json()).toMatchObject({ nameEn: 'Large latte', version: 2, stock: 10 });
      const stale = await api.call('PUT', `/catalog/items/${item.id}`, world.org.tokens.hq.admin, {
        kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 1 }, voucherValidDays: 1, expectedVersion: 1, reason: 'stale form',
      });
      expect([stale.statusCode, codeOf(stale)]).toEqual([409, 'CONFLICT']);
      const audit = (await api.call('GET', `/catalog/items/${item.id}/audit`, world.org.tokens.hq.manager)).json();
      expect(audit).toEqual([
        expect.objectContaining({ action: 'created', actor: { type: 'operator', id: world.org.operatorIds.hq.manager }, reason: 'spring catalog' }),
        expect.objectContaining({ action: 'updated', actor: { type: 'operator', id: world.org.operatorIds.hq.admin }, reason: 'bigger cup' }),
      ]);
    });

    it.each([
      ['a store manager', 'xuhui', 'manager', 403],
      ['an HQ cashier', 'hq', 'cashier', 403],
      ['a region admin', 'east', 'admin', 403],
    ] as const)('%s cannot define items', async (_label, scope, role, status) => {
      const before = await counts(world.db);
      const reply = await api.call('POST', '/catalog/items', world.org.tokens[scope][role], {
        kind: 'goods', nameZh: '茶', nameEn: 'Tea', price: { kind: 'points', points: 1 }, voucherValidDays: 1, stock: 1, reason: 'x',
      });
      expect(reply.statusCode).toBe(status);
      expect(await counts(world.db)).toEqual(before);
    });

    it('bad definitions are refused with every problem named, and nothing is written', async () => {
      const before = await counts(world.db);
      const reply = await api.call('POST', '/catalog/items', world.org.tokens.hq.manager, {
        kind: 'goods',
        nameZh: '茶',
        nameEn: 'Tea',
        price: { kind: 'points', points: 1 },
        allowedTiers: ['platinum'],
        validFrom: '2026-07-01T00:00:00+08:00',
        validUntil: '2026-06-01T00:00:00+08:00',
        voucherValidDays: 1,
        stock: 1,
        reason: 'bad',
      });
      expect(reply.statusCode).toBe(400);
      expect(reply.json().error).toEqual({
        code: 'INVALID_INPUT',
        message:
          '兑换商品设置有误：allowedTiers: unknown tier "platinum"；window: validFrom must be before validUntil / ' +
          'Invalid catalog item: allowedTiers: unknown tier "platinum"; window: validFrom must be before validUntil',
      });
      const schemaRefusal = await api.call('POST', '/catalog/items', world.org.tokens.hq.manager, { kind: 'car', reason: 'x' });
      expect([schemaRefusal.statusCode, codeOf(schemaRefusal)]).toEqual([400, 'VALIDATION_FAILED']);
      expect(await counts(world.db)).toEqual(before);
    });

    it('stock moves by deltas, never below zero; store stock by a manager of that store', async () => {
      const item = await api.item({ stock: 2 });
      const added = await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.hq.manager, { delta: 3, reason: 'delivery' });
      expect(added.json()).toMatchObject({ stock: 5, version: 1 });
      const tooMany = await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.hq.manager, { delta: -6, reason: 'count' });
      expect([tooMany.statusCode, tooMany.json().error.message]).toEqual([400, '现有库存 5 件，减少 6 件会低于零 / Stock is 5; removing 6 would take it below zero']);
      const wrongKind = await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.xuhui.manager, {
        storeId: XUHUI, delta: 1, reason: 'x',
      });
      expect([wrongKind.statusCode, wrongKind.json().error.message]).toEqual([400, '该商品全连锁统一备货：调整时不要指定门店 / This item is held chain-wide: adjust it without a store']);

      const perStore = await api.item({ stock: null, perStoreStock: true });
      const mine = await api.call('POST', `/catalog/items/${perStore.id}/stock-adjustments`, world.org.tokens.xuhui.manager, {
        storeId: XUHUI, delta: 4, reason: 'delivery',
      });
      expect(mine.json()).toMatchObject({ stock: null, storeStock: [{ storeId: XUHUI, stock: 4 }] });
      const theirs = await api.call('POST', `/catalog/items/${perStore.id}/stock-adjustments`, world.org.tokens.jingan.manager, {
        storeId: XUHUI, delta: 4, reason: 'x',
      });
      expect(theirs.statusCode).toBe(403);
      const chainWide = await api.call('POST', `/catalog/items/${perStore.id}/stock-adjustments`, world.org.tokens.xuhui.manager, { delta: 1, reason: 'x' });
      expect(chainWide.statusCode).toBe(403);
    });

    it('refuses stock changes that mean nothing, in both languages, and changes nothing', async () => {
      const hq = world.org.tokens.hq.manager;
      const adjust = (itemId: string, body: object) => api.call('POST', `/catalog/items/${itemId}/stock-adjustments`, hq, { reason: 'count', ...body });
      const perStore = await api.item({ stock: null, perStoreStock: true });
      const unlimited = await api.item({ stock: null });
      const counted = await api.item({ stock: 3 });
      const before = await counts(world.db);
      for (const [itemId, body, message] of [
        [perStore.id, { delta: 1 }, '该商品按门店备货：请指定要调整库存的门店 / This item is held per store: name the store whose stock changes'],
        [unlimited.id, { delta: 1 }, '该商品不限库存，无需调整 / This item has unlimited stock; there is nothing to adjust'],
        [counted.id, { delta: 0 }, '调整数量（delta）须为 -1000000000 至 1000000000 之间的非零整数 / delta must be a whole number from -1000000000 to 1000000000, not 0'],
      ] as const) {
        const reply = await adjust(itemId, body);
        expect([reply.statusCode, reply.json().error]).toEqual([400, { code: 'INVALID_INPUT', message }]);
      }
      expect(await counts(world.db)).toEqual(before);
    });

    it('an unknown item is 404 in both languages; a stale edit is 409 CONFLICT naming both versions', async () => {
      const unknown = '0195f000-0000-7000-8000-000000000000';
      const notFound = { code: 'NOT_FOUND', message: `没有编号为「${unknown}」的兑换商品 / No catalog item has the id "${unknown}"` };
      for (const reply of [
        await api.call('GET', `/catalog/items/${unknown}`, world.org.tokens.xuhui.cashier),
        await api.call('GET', `/catalog/items/${unknown}/audit`, world.org.tokens.hq.manager),
        await api.call('POST', `/catalog/items/${unknown}/stock-adjustments`, world.org.tokens.hq.manager, { delta: 1, reason: 'x' }),
      ]) {
        expect([reply.statusCode, reply.json().error]).toEqual([404, notFound]);
      }
      const item = await api.item();
      const edit = { kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 1 }, voucherValidDays: 1, reason: 'edit' };
      expect((await api.call('PUT', `/catalog/items/${item.id}`, world.org.tokens.hq.manager, { ...edit, expectedVersion: 1 })).statusCode).toBe(200);
      const stale = await api.call('PUT', `/catalog/items/${item.id}`, world.org.tokens.hq.manager, { ...edit, expectedVersion: 1 });
      expect([stale.statusCode, stale.json().error]).toEqual([
        409,
        {
          code: 'CONFLICT',
          message: '该商品已被他人修改（现为第 2 版，您编辑的是第 1 版），请刷新后重试 / The item was changed by someone else (now version 2, you edited version 1). Reload it and try again',
        },
      ]);
    });
  });

  describe('redemption', () => {
    it('takes the points and one unit, and issues a signed voucher that verifies offline; a retry gets the same voucher', async () => {
      const item = await api.item();
      const memberId = await api.member({ points: 1_200 });
      const idempotencyKey = key('redeem');
      const first = await api.redeem(memberId, item.id, undefined, idempotencyKey);
      expect(first.statusCode, first.body).toBe(201);
      const body = first.json();
      expect(body).toMatchObject({ replay: false, member: { balances: { points: 700 } } });
      expect(body.voucher).toMatchObject({ status: 'issued', points: 500, cashFen: 0, itemId: item.id, memberId, redeemedStoreId: XUHUI, storeId: null });
      expect(body.voucher.displayCode).toMatch(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/);

      // A cashier terminal fetches the public key once and verifies offline.
      const published = (await api.call('GET', '/vouchers/signing-key', world.org.tokens.jingan.cashier)).json();
      expect(published).toEqual({ algorithm: 'Ed25519', keyId: voucherKey.keyId, publicKeyPem: voucherKey.publicKeyPem });
      expect(verifyVoucher(body.voucher.text, createPublicKey(published.publicKeyPem), new Date(), { storeId: JINGAN })).toEqual({
        ok: true,
        voucher: {
          code: body.voucher.code,
          itemId: item.id,
          itemName: '拿铁 Latte',
          member: '张** 138****5678',
          storeId: null,
          expiresAt: new Date(body.voucher.expiresAt),
        },
      });

      const before = await counts(world.db);
      const again = await api.redeem(memberId, item.id, undefined, idempotencyKey);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ ...body, replay: true });
      expect(await counts(world.db)).toEqual(before);
      expect(await points(memberId)).toBe(700);
      expect((await api.call('GET', `/catalog/items/${item.id}`, world.org.tokens.hq.manager)).json().stock).toBe(9);

      const other = await api.item();
      const beforeConflict = await counts(world.db);
      const conflict = await api.redeem(memberId, other.id, undefined, idempotencyKey);
      expect([conflict.statusCode, codeOf(conflict)]).toEqual([409, 'IDEMPOTENCY_CONFLICT']);
      expect(await counts(world.db)).toEqual(beforeConflict);
    });

    it('points + cash: the cash part is paid from stored value in the same transaction', async () => {
      const item = await api.item({ price: { kind: 'points', points: 300, cashFen: 1_500 } });
      const memberId = await api.member({ points: 1_000, storedFen: 2_000 });
      const reply = await api.redeem(memberId, item.id);
      expect(reply.statusCode, reply.body).toBe(201);
      expect(reply.json().member.balances).toMatchObject({ points: 700, principalFen: 500 });
      expect(reply.json().voucher).toMatchObject({ points: 300, cashFen: 1_500 });
      await expectLedgerConsistent(world.db);
    });

    it('value-priced items cost points at the tier ratio (standard: 100 points per ¥1)', async () => {
      const item = await api.item({ kind: 'gift_card', nameZh: '10元礼品卡', nameEn: '¥10 gift card', price: { kind: 'value', valueFen: 1_000 } });
      const memberId = await api.member({ points: 1_500 });
      expect((await api.redeem(memberId, item.id)).json().voucher.points).toBe(1_000);
    });

    it.each([
      ['an inactive item', { active: false }, {}, 409, 'ITEM_NOT_AVAILABLE', '「拿铁」已下架 / "Latte" is no longer offered'],
      ['before its window', { validFrom: '2099-01-01T00:00:00+08:00' }, {}, 409, 'ITEM_NOT_AVAILABLE', '「拿铁」尚未开放兑换 / "Latte" cannot be redeemed yet'],
      ['a tier it is not for', { allowedTiers: ['gold', 'diamond'] }, {}, 409, 'ITEM_NOT_AVAILABLE', '「拿铁」仅限金卡、钻石会员兑换 / "Latte" is for Gold, Diamond members only'],
      ['too few points', {}, { points: 499 }, 409, 'INSUFFICIENT_POINTS', '积分不足：需要500积分，您有499积分 / Not enough points: 500 needed, you have 499'],
      ['no stored value for the cash part', { price: { kind: 'points', points: 1, cashFen: 100 } }, {}, 409, 'INSUFFICIENT_BALANCE', '储值余额不足：需要¥1.00 / Not enough stored value: ¥1.00 needed'],
      ['no stock', { stock: 0 }, {}, 409, 'OUT_OF_STOCK', '「拿铁」已兑完 / "Latte" is out of stock'],
      ['a per-store item this store does not hold', { stock: null, perStoreStock: true }, {}, 409, 'ITEM_NOT_AVAILABLE', '「拿铁」本店不提供兑换 / "Latte" is not offered at this store'],
    ])('refuses %s with a bilingual reason, changing nothing', async (_label, itemOverrides, memberOverrides, status, code, message) => {
      const item = await api.item(itemOverrides);
      const memberId = await api.member(memberOverrides);
      const before = await counts(world.db);
      const pointsBefore = await points(memberId);
      const reply = await api.redeem(memberId, item.id);
      expect(reply.statusCode).toBe(status);
      expect(reply.json()).toEqual({ error: { code, message } });
      expect(await counts(world.db)).toEqual(before);
      expect(await points(memberId)).toBe(pointsBefore);
    });

    it.each([
      ['an unknown item', () => ({ itemId: '0195f000-0000-7000-8000-000000000000' }), 404, 'NOT_FOUND'],
      ['an unknown member', () => ({ memberId: '0195f000-0000-7000-8000-000000000000' }), 404, 'MEMBER_NOT_FOUND'],
      ['a malformed item id', () => ({ itemId: 'latte' }), 400, 'VALIDATION_FAILED'],
      ['a short idempotency key', () => ({ idempotencyKey: 'k' }), 400, 'VALIDATION_FAILED'],
      ['an unknown store', () => ({ storeId: 'nowhere' }), 404, 'STORE_NOT_FOUND'],
      ['an extra field', () => ({ points: 1 }), 400, 'VALIDATION_FAILED'],
    ])('bad input: %s → refused with a clear code, nothing changes', async (_label, patch, status, code) => {
      const item = await api.item();
      const memberId = await api.member();
      const before = await counts(world.db);
      const reply = await api.call('POST', '/catalog/redemptions', world.org.tokens.hq.cashier, {
        idempotencyKey: key('bad'), memberId, itemId: item.id, storeId: XUHUI, ...patch(),
      });
      expect([reply.statusCode, codeOf(reply)]).toEqual([status, code]);
      expect(await counts(world.db)).toEqual(before);
    });

    it('checks scope: a cashier of another store cannot redeem for this store\'s member, an HQ cashier must name the store', async () => {
      const item = await api.item();
      const memberId = await api.member();
      expect((await api.redeem(memberId, item.id, world.org.tokens.jingan.cashier)).statusCode).toBe(403);
      expect((await api.redeem(memberId, item.id, world.org.tokens.xuhui.technician)).statusCode).toBe(403);
      const unnamed = await api.redeem(memberId, item.id, world.org.tokens.hq.cashier);
      expect([unnamed.statusCode, unnamed.json().error.message]).toEqual([400, '请指定门店（storeId）：您不是在某一门店登录的 / Name the store (storeId): you are not signed in at a store']);
      expect((await api.redeem(memberId, item.id, world.org.tokens.hq.cashier, key(), JINGAN)).statusCode).toBe(201);
    });

    it('the per-member limit counts calendar months in the store time zone, and refunded redemptions do not count', async () => {
      const item = await api.item({ stock: null, memberLimit: { count: 2, period: 'month' } });
      const memberId = await api.member();
      const redeemAt = (iso: string) =>
        redeem({ db: world.db, ledger: world.ledger, voucherKey, rules }, { idempotencyKey: key('lim'), memberId, itemId: item.id, storeId: XUHUI, actor: SYSTEM, at: new Date(iso) });
      const june = '2026-06-30T23:59:59.999+08:00';
      const first = await redeemAt(june);
      await redeemAt('2026-06-01T00:00:00+08:00');
      await expect(redeemAt(june)).rejects.toMatchObject({ code: 'REDEMPTION_LIMIT_REACHED', message: '「拿铁」每月限兑2次，您已兑满 / "Latte" is limited to 2 per month; you have reached it' });
      // 16:00Z on 30 June is already 1 July in Shanghai.
      await redeemAt('2026-06-30T16:00:00Z');
      await refundVoucher(world.db, world.ledger, { code: first.voucher!.code, idempotencyKey: key('ref'), actor: SYSTEM, reason: 'changed mind' });
      await redeemAt(june);
    });
  });

  describe('write-off (核销)', () => {
    async function issued(overrides: Record<string, unknown> = {}) {
      const item = await api.item(overrides);
      const memberId = await api.member();
      if ((overrides as { perStoreStock?: boolean }).perStoreStock) {
        await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.xuhui.manager, { storeId: XUHUI, delta: 5, reason: 'delivery' });
      }
      const reply = await api.redeem(memberId, item.id);
      expect(reply.statusCode, reply.body).toBe(201);
      return { itemId: item.id, memberId, voucher: reply.json().voucher as { code: string; displayCode: string; text: string; voucherId: string } };
    }

    it('a cashier writes a scanned voucher off once; a second scan is refused, naming when and where', async () => {
      const { voucher } = await issued();
      const verified = await api.call('POST', '/vouchers/verifications', world.org.tokens.jingan.cashier, { voucher: voucher.text });
      expect(verified.json()).toMatchObject({ valid: true, voucher: { status: 'issued' } });
      const done = await api.call('POST', '/vouchers/write-offs', world.org.tokens.jingan.cashier, { voucher: voucher.text });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json()).toMatchObject({
        status: 'written_off',
        writtenOff: { storeId: JINGAN, actor: { type: 'operator', id: world.org.operatorIds.jingan.cashier } },
      });
      const again = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: voucher.displayCode.toLowerCase() });
      expect([again.statusCode, codeOf(again)]).toEqual([409, 'VOUCHER_ALREADY_USED']);
      expect(again.json().error.message).toContain(`at store ${JINGAN}`);
      const after = await api.call('POST', '/vouchers/verifications', world.org.tokens.xuhui.cashier, { voucher: voucher.code });
      expect(after.json()).toMatchObject({ valid: false, code: 'VOUCHER_ALREADY_USED' });
    });

    it('a per-store voucher is refused at another store, online and in the signed text', async () => {
      const { voucher } = await issued({ stock: null, perStoreStock: true });
      const elsewhere = await api.call('POST', '/vouchers/write-offs', world.org.tokens.jingan.cashier, { voucher: voucher.text });
      expect([elsewhere.statusCode, elsewhere.json().error]).toEqual([
        409,
        { code: 'VOUCHER_WRONG_STORE', message: '此兑换券不能在本店核销 / This voucher cannot be used at this store' },
      ]);
      const typed = await api.call('POST', '/vouchers/write-offs', world.org.tokens.jingan.cashier, { voucher: voucher.code });
      expect(codeOf(typed)).toBe('VOUCHER_WRONG_STORE');
      const home = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: voucher.text });
      expect(home.json()).toMatchObject({ status: 'written_off', storeId: XUHUI });
    });

    it.each([
      ['an altered text', (text: string) => text.slice(0, -6) + (text.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'), 'VOUCHER_INVALID'],
      ['a text signed by another key', () => 'MKV1.AAAAAAAAAAA.W10.' + 'A'.repeat(86), 'VOUCHER_INVALID'],
      ['a mistyped code', (_: string, code: string) => code.slice(0, -1) + (code.endsWith('2') ? '3' : '2'), 'VOUCHER_INVALID'],
    ])('refuses %s, changing nothing', async (_label, mangle, code) => {
      const { voucher } = await issued();
      const reply = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: mangle(voucher.text, voucher.code) });
      expect([reply.statusCode, codeOf(reply)]).toEqual([400, code]);
      const still = await api.call('GET', `/vouchers/${voucher.code}`, world.org.tokens.xuhui.cashier);
      expect(still.json().status).toBe('issued');
    });

    it('an unknown but well-formed code is 404; a cashier of a store out of scope is 403', async () => {
      const { voucher } = await issued();
      const unknown = [...VOUCHER_CODE_ALPHABET].map((check) => '2'.repeat(15) + check).find((code) => normalizeVoucherCode(code) === code)!;
      const reply = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: unknown });
      expect([reply.statusCode, codeOf(reply)]).toEqual([404, 'VOUCHER_NOT_FOUND']);
      const outOfScope = await api.call('POST', '/vouchers/write-offs', world.org.tokens.jingan.cashier, { voucher: voucher.code, storeId: XUHUI });
      expect(outOfScope.statusCode).toBe(403);
    });

    it('an expired voucher is refused; the expiry job marks it, returns the unit to stock and keeps the points', async () => {
      const { voucher, itemId, memberId } = await issued({ stock: 3, voucherValidDays: 1 });
      const pointsAfterRedeem = await points(memberId);
      const later = new Date(Date.now() + 2 * 86_400_000);
      await expect(writeOffVoucher(world.db, voucherKey, { voucher: voucher.text, storeId: XUHUI, actor: SYSTEM, at: later })).rejects.toMatchObject({
        code: 'VOUCHER_EXPIRED',
      });
      await expect(writeOffVoucher(world.db, voucherKey, { voucher: voucher.code, storeId: XUHUI, actor: SYSTEM, at: later })).rejects.toMatchObject({
        code: 'VOUCHER_EXPIRED',
      });
      expect((await expireVouchers(world.db, { asOf: later })).expired).toBeGreaterThanOrEqual(1);
      expect((await expireVouchers(world.db, { asOf: later })).expired).toBe(0);
      const item = (await api.call('GET', `/catalog/items/${itemId}`, world.org.tokens.hq.manager)).json();
      expect(item.stock).toBe(3);
      expect(await points(memberId)).toBe(pointsAfterRedeem);
      const reply = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: voucher.code });
      expect(codeOf(reply)).toBe('VOUCHER_EXPIRED');
      const refund = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.manager, { idempotencyKey: key(), reason: 'late' });
      expect([refund.statusCode, codeOf(refund)]).toEqual([409, 'VOUCHER_EXPIRED']);
    });
  });

  describe('refund', () => {
    it('refunds an unused voucher once: points and cash part back, unit back in stock; a replay returns the first result', async () => {
      const item = await api.item({ stock: 5, price: { kind: 'points', points: 400, cashFen: 1_000 } });
      const memberId = await api.member({ points: 1_000, storedFen: 1_000 });
      const { voucher } = (await api.redeem(memberId, item.id)).json();
      const idempotencyKey = key('refund');
      const cashier = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.cashier, { idempotencyKey, reason: 'no' });
      expect(cashier.statusCode).toBe(403);
      const first = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.manager, { idempotencyKey, reason: 'changed mind', storeId: XUHUI });
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json()).toMatchObject({ replay: false, member: { balances: { points: 1_000, principalFen: 1_000 } }, voucher: { status: 'refunded' } });
      const replay = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.manager, { idempotencyKey, reason: 'changed mind', storeId: XUHUI });
      expect(replay.statusCode).toBe(200);
      expect(replay.json().refundTxId).toBe(first.json().refundTxId);
      const twice = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.manager, { idempotencyKey: key(), reason: 'again' });
      expect([twice.statusCode, codeOf(twice)]).toEqual([409, 'ALREADY_REFUNDED']);
      expect((await api.call('GET', `/catalog/items/${item.id}`, world.org.tokens.hq.manager)).json().stock).toBe(5);
      const use = await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: voucher.text });
      expect([use.statusCode, use.json().error.message]).toEqual([409, '兑换券已退款，不能再使用 / This voucher was refunded and cannot be used']);
      await expectLedgerConsistent(world.db);
    });

    it('a written-off voucher cannot be refunded', async () => {
      const item = await api.item();
      const memberId = await api.member();
      const { voucher } = (await api.redeem(memberId, item.id)).json();
      await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: voucher.code });
      const before = await counts(world.db);
      const reply = await api.call('POST', `/vouchers/${voucher.code}/refunds`, world.org.tokens.xuhui.manager, { idempotencyKey: key(), reason: 'no' });
      expect([reply.statusCode, codeOf(reply)]).toEqual([409, 'VOUCHER_ALREADY_USED']);
      expect(await counts(world.db)).toEqual(before);
    });

    it("the ledger's refund route reverses the voucher too, and is refused for a voucher written off or expired", async () => {
      const manager = world.org.tokens.xuhui.manager;
      const refundTx = (txId: string) => api.call('POST', `/transactions/${txId}/refunds`, manager, { idempotencyKey: key(), reason: 'returned' });
      const item = await api.item({ stock: 5, voucherValidDays: 1 });
      const [unused, used, lapsed] = [await api.member(), await api.member(), await api.member()];
      const redeemed = async (memberId: string) => (await api.redeem(memberId, item.id)).json() as { txId: string; voucher: { code: string } };

      const open = await redeemed(unused);
      const refunded = await refundTx(open.txId);
      expect(refunded.statusCode, refunded.body).toBe(201);
      expect((await api.call('GET', `/vouchers/${open.voucher.code}`, manager)).json().status).toBe('refunded');

      const writtenOff = await redeemed(used);
      expect((await api.call('POST', '/vouchers/write-offs', world.org.tokens.xuhui.cashier, { voucher: writtenOff.voucher.code })).statusCode).toBe(200);
      const expired = await redeemed(lapsed);
      await expireVouchers(world.db, { asOf: new Date(Date.now() + 2 * 86_400_000) });
      const before = await counts(world.db);
      const pointsBefore = [await points(used), await points(lapsed)];
      const refusedUsed = await refundTx(writtenOff.txId);
      expect([refusedUsed.statusCode, codeOf(refusedUsed), refusedUsed.json().error.message]).toEqual([409, 'VOUCHER_ALREADY_USED', expect.stringContaining('This voucher was already used on')]);
      const refusedExpired = await refundTx(expired.txId);
      expect([refusedExpired.statusCode, refusedExpired.json().error]).toEqual([409, { code: 'VOUCHER_EXPIRED', message: '兑换券已过期 / This voucher has expired' }]);
      expect(await counts(world.db)).toEqual(before);
      expect([await points(used), await points(lapsed)]).toEqual(pointsBefore);
      await expectLedgerConsistent(world.db);
    });
  });

  describe('points budget (spend)', () => {
    const redeemWith = (capped: CatalogRules, memberId: string, itemId: string, iso: string, storeId = XUHUI, idempotencyKey = key('budget')) =>
      redeem({ db: world.db, ledger: world.ledger, voucherKey, rules: capped }, { idempotencyKey, memberId, itemId, storeId, actor: SYSTEM, at: new Date(iso) });

    it("a member's daily spend cap: up to the cap exactly, then BUDGET_EXCEEDED with nothing changed; a new local day starts afresh", async () => {
      const capped = withSpendCaps({ scope: 'member', period: 'day', limitPoints: 1_000 });
      const latte = await api.item({ price: { kind: 'points', points: 400 } });
      const cookie = await api.item({ nameZh: '曲奇', nameEn: 'Cookie', price: { kind: 'points', points: 200 } });
      const memberId = await api.member({ points: 5_000 });
      const lastInstant = '2026-08-03T23:59:59.999+08:00';
      await redeemWith(capped, memberId, latte.id, '2026-08-03T00:00:00+08:00');
      const retryKey = key('budget');
      const second = await redeemWith(capped, memberId, latte.id, lastInstant, XUHUI, retryKey);

      const before = await counts(world.db);
      await expect(redeemWith(capped, memberId, latte.id, lastInstant)).rejects.toMatchObject({
        code: 'BUDGET_EXCEEDED',
        message:
          '您今日的积分兑换额度还剩 200 分（上限 1000 分），兑换「拿铁」需要 400 分，未作任何更改 / ' +
          `The member's points spending budget for this day has 200 of 1000 points left, but "Latte" needs 400; nothing was changed`,
      });
      expect(await counts(world.db)).toEqual(before);
      expect([await points(memberId), await spendUsed(world.db, memberId, '2026-08-03')]).toEqual([4_200, 800]);
      // A retry of a redemption that went through still gets its voucher, whatever the budget says now.
      expect(await redeemWith(capped, memberId, latte.id, lastInstant, XUHUI, retryKey)).toMatchObject({ replay: true, txId: second.txId, voucher: second.voucher });

      // Exactly up to the cap is allowed.
      await redeemWith(capped, memberId, cookie.id, lastInstant);
      expect(await spendUsed(world.db, memberId, '2026-08-03')).toBe(1_000);
      // 16:00Z on 3 August is already 4 August in Shanghai: a new day's budget.
      await redeemWith(capped, memberId, latte.id, '2026-08-03T16:00:00Z');
      expect([await points(memberId), await spendUsed(world.db, memberId, '2026-08-04')]).toEqual([3_600, 400]);
      await expectLedgerConsistent(world.db);
    });

    it("a store's monthly spend cap counts every member there; refunding a voucher gives its points back to both budgets", async () => {
      const capped = withSpendCaps({ scope: 'member', period: 'day', limitPoints: 10_000 }, { scope: 'store', period: 'month', limitPoints: 1_000 });
      const item = await api.item({ price: { kind: 'points', points: 400 } });
      const [first, second, third] = [await api.member({ points: 1_000 }), await api.member({ points: 1_000 }), await api.member({ points: 1_000 })];
      const at = '2026-09-15T12:00:00+08:00';
      const firstRedemption = await redeemWith(capped, first!, item.id, at, JINGAN);
      await redeemWith(capped, second!, item.id, at, JINGAN);

      const before = await counts(world.db);
      await expect(redeemWith(capped, third!, item.id, at, JINGAN)).rejects.toMatchObject({
        code: 'BUDGET_EXCEEDED',
        message:
          '本店本月的积分兑换额度还剩 200 分（上限 1000 分），兑换「拿铁」需要 400 分，未作任何更改 / ' +
          `This store's points spending budget for this month has 200 of 1000 points left, but "Latte" needs 400; nothing was changed`,
      });
      expect(await counts(world.db)).toEqual(before);
      expect([await points(third!), await spendUsed(world.db, third!, '2026-09-15'), await spendUsed(world.db, JINGAN, '2026-09')]).toEqual([1_000, 0, 800]);

      // Refunded (today, in another period): the September counters get the 400 points back, once.
      const { refund } = await refundVoucher(world.db, world.ledger, { code: firstRedemption.voucher!.code, idempotencyKey: key('ref'), actor: SYSTEM, reason: 'changed mind' });
      expect([await spendUsed(world.db, first!, '2026-09-15'), await spendUsed(world.db, JINGAN, '2026-09')]).toEqual([0, 400]);
      const { rows } = await world.db.query('SELECT scope, released_by_tx_id FROM points_budget_consumptions WHERE tx_id = $1 ORDER BY scope', [firstRedemption.txId]);
      expect(rows).toEqual([{ scope: 'member', released_by_tx_id: refund.txId }, { scope: 'store', released_by_tx_id: refund.txId }]);
      await redeemWith(capped, third!, item.id, at, JINGAN);
      expect([await points(third!), await spendUsed(world.db, JINGAN, '2026-09')]).toEqual([600, 800]);
      await expectLedgerConsistent(world.db);
    });

    it('over REST the published program rules apply: past the spend cap a redemption is 409 BUDGET_EXCEEDED and changes nothing', async () => {
      const admin = world.org.tokens.hq.admin;
      const published = (await api.call('GET', '/program/rules', admin)).json().rules;
      const spendCap = { scope: 'member', direction: 'spend', period: 'day', limitPoints: 600 };
      const capped = { ...published, budgets: { ...published.budgets, caps: [...published.budgets.caps, spendCap] } };
      expect((await api.call('PUT', '/program/rules', admin, { rules: capped, reason: 'daily spend cap' })).statusCode).toBe(201);
      try {
        const item = await api.item();
        const memberId = await api.member({ points: 2_000 });
        expect((await api.redeem(memberId, item.id)).statusCode).toBe(201);
        const before = await counts(world.db);
        const refused = await api.redeem(memberId, item.id);
        expect([refused.statusCode, codeOf(refused)]).toEqual([409, 'BUDGET_EXCEEDED']);
        expect(refused.json().error.message).toMatch(/^您今日的积分兑换额度还剩 100 分.* \/ The member's points spending budget for this day has 100 of 600 points left/);
        expect(await counts(world.db)).toEqual(before);
        expect(await points(memberId)).toBe(1_500);
      } finally {
        expect((await api.call('PUT', '/program/rules', admin, { rules: published, reason: 'spend cap lifted' })).statusCode).toBe(201);
      }
    });
  });

  describe('coupon items (issue a coupon, no voucher)', () => {
    const hq = () => world.org.tokens.hq.manager;
    const manager = () => world.org.tokens.xuhui.manager;
    const manJian = { nameZh: '满100减20', nameEn: '¥20 off ¥100', offer: { kind: 'amount_off', amountOffFen: 2_000 }, conditions: { minSpendFen: 10_000 } };
    async function template(overrides: object = {}): Promise<string> {
      const created = await api.call('POST', '/coupon-templates', hq(), { ...manJian, ...overrides, reason: 'catalog coupon' });
      expect(created.statusCode, created.body).toBe(201);
      return created.json().templateId;
    }
    const couponItem = async (templateId: string, overrides: Record<string, unknown> = {}) =>
      api.item({ kind: 'coupon', nameZh: '满减券', nameEn: 'Coupon ¥20', couponTemplateId: templateId, stock: 5, ...overrides });
    /** Everything a refused coupon item or redemption or refund must leave as it was. */
    async function snapshot() {
      const { rows } = await world.db.query<Record<string, number>>(
        `SELECT (SELECT count(*)::int FROM catalog_items) AS items, (SELECT count(*)::int FROM coupons) AS coupons,
                (SELECT count(*)::int FROM coupons WHERE status = 'issued') AS issued,
                (SELECT count(*)::int FROM catalog_coupon_redemptions WHERE refund_tx_id IS NULL) AS live,
                (SELECT count(*)::int FROM coupon_audit) AS coupon_audit`,
      );
      return { ...rows[0]!, ...(await counts(world.db)) };
    }
    const checkout = (memberId: string, couponCode: string) =>
      api.call('POST', '/checkout', world.org.tokens.xuhui.cashier, {
        idempotencyKey: key('co'),
        memberId,
        storeId: XUHUI,
        lines: [{ sku: 'food-1', category: 'food', unitPriceFen: 10_000, quantity: 1 }],
        couponCode,
        payment: { cashFen: 8_000 },
      });

    it('redeeming issues the coupon (no voucher) in the same transaction; a replay returns the same coupon; it works at checkout', async () => {
      const templateId = await template();
      const item = await couponItem(templateId);
      expect(item).toMatchObject({ kind: 'coupon', couponTemplateId: templateId });
      const memberId = await api.member({ points: 1_000 });
      const vouchersBefore = (await counts(world.db)).vouchers;
      const idempotencyKey = key('redeem');
      const first = await api.redeem(memberId, item.id, undefined, idempotencyKey);
      expect(first.statusCode, first.body).toBe(201);
      const { coupon, txId } = first.json();
      expect(first.json().voucher).toBeUndefined();
      expect(coupon).toMatchObject({ templateId, memberId, status: 'issued', purchaseTxId: txId, label: { zh: '满100减20' } });
      expect(await points(memberId)).toBe(500);
      expect((await counts(world.db)).vouchers).toBe(vouchersBefore);
      expect((await api.call('GET', `/catalog/items/${item.id}`, hq())).json().stock).toBe(4);

      const replay = await api.redeem(memberId, item.id, undefined, idempotencyKey);
      expect([replay.statusCode, replay.json().txId, replay.json().coupon]).toEqual([200, txId, coupon]);
      const held = (await api.call('GET', `/members/${memberId}/coupons`, manager())).json().coupons;
      expect(held.map((c: { couponId: string }) => c.couponId)).toEqual([coupon.couponId]);
      expect(await points(memberId)).toBe(500);

      const paid = await checkout(memberId, coupon.code);
      expect(paid.statusCode, paid.body).toBe(201);
      expect((await api.call('GET', `/members/${memberId}/coupons?status=used`, manager())).json().coupons).toHaveLength(1);
      await expectLedgerConsistent(world.db);
    });

    it('the per-member limit counts coupon redemptions', async () => {
      const item = await couponItem(await template(), { memberLimit: { count: 1, period: 'lifetime' } });
      const memberId = await api.member({ points: 2_000 });
      expect((await api.redeem(memberId, item.id)).statusCode).toBe(201);
      const again = await api.redeem(memberId, item.id);
      expect([again.statusCode, codeOf(again)]).toEqual([409, 'REDEMPTION_LIMIT_REACHED']);
    });

    it.each([
      ['an unknown template', async () => '01900000-0000-7000-8000-000000000000', /no coupon template has the id 01900000-0000-7000-8000-000000000000/],
      ['an inactive template', async () => {
        const id = await template();
        expect((await api.call('PUT', `/coupon-templates/${id}`, hq(), { active: false, reason: 'stopped' })).statusCode).toBe(200);
        return id;
      }, /is not active/],
      ['an ended template', async () => template({ conditions: { validFrom: '2020-01-01T00:00:00Z', validUntil: '2020-02-01T00:00:00Z' } }), /ended on 2020-02-01/],
      ['no template', async () => undefined, /must name the coupon template/],
    ])('an item naming %s is refused at create and update, changing nothing', async (_label, templateOf, message) => {
      const templateId = await templateOf();
      const good = await couponItem(await template());
      const before = await snapshot();
      const body = {
        kind: 'coupon', nameZh: '满减券', nameEn: 'Coupon ¥20', price: { kind: 'points', points: 500 }, voucherValidDays: 30, reason: 'spring',
        ...(templateId === undefined ? {} : { couponTemplateId: templateId }),
      };
      const created = await api.call('POST', '/catalog/items', hq(), { ...body, stock: 5 });
      expect([created.statusCode, codeOf(created), created.json().error.message]).toEqual([400, 'INVALID_INPUT', expect.stringMatching(message)]);
      const updated = await api.call('PUT', `/catalog/items/${good.id}`, hq(), { ...body, expectedVersion: good.version });
      expect([updated.statusCode, codeOf(updated), updated.json().error.message]).toEqual([400, 'INVALID_INPUT', expect.stringMatching(message)]);
      expect(await snapshot()).toEqual(before);
      expect((await api.call('GET', `/catalog/items/${good.id}`, hq())).json().version).toBe(good.version);
    });

    it('a template on another kind of item is refused', async () => {
      const reply = await api.call('POST', '/catalog/items', hq(), {
        kind: 'goods', nameZh: '拿铁', nameEn: 'Latte', price: { kind: 'points', points: 500 }, voucherValidDays: 30, stock: 5,
        couponTemplateId: await template(), reason: 'spring',
      });
      expect([reply.statusCode, reply.json().error.message]).toEqual([400, expect.stringContaining('couponTemplateId is only for items of kind coupon')]);
    });

    it('a template stopped after the item was defined makes the item unavailable; nothing changes', async () => {
      const templateId = await template();
      const item = await couponItem(templateId);
      expect((await api.call('PUT', `/coupon-templates/${templateId}`, hq(), { active: false, reason: 'stopped' })).statusCode).toBe(200);
      const memberId = await api.member({ points: 1_000 });
      const before = await snapshot();
      const reply = await api.redeem(memberId, item.id);
      expect([reply.statusCode, codeOf(reply), reply.json().error.message]).toEqual([
        409,
        'ITEM_NOT_AVAILABLE',
        '「满减券」暂停兑换：优惠券已停发 / "Coupon ¥20" cannot be redeemed now: its coupon is no longer issued',
      ]);
      expect(await snapshot()).toEqual(before);
      expect(await points(memberId)).toBe(1_000);
    });

    it('a refund voids the unused coupon and returns points, cash part and stock once', async () => {
      const item = await couponItem(await template(), { price: { kind: 'points', points: 400, cashFen: 1_000 } });
      const memberId = await api.member({ points: 1_000, storedFen: 1_000 });
      const { coupon, txId } = (await api.redeem(memberId, item.id)).json();
      const url = `/catalog/redemptions/${txId}/refunds`;
      const idempotencyKey = key('refund');
      expect((await api.call('POST', url, world.org.tokens.xuhui.cashier, { idempotencyKey, reason: 'no' })).statusCode).toBe(403);
      const first = await api.call('POST', url, manager(), { idempotencyKey, reason: 'changed mind', storeId: XUHUI });
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json()).toMatchObject({
        replay: false,
        member: { balances: { points: 1_000, principalFen: 1_000 } },
        coupon: { couponId: coupon.couponId, status: 'voided' },
      });
      const replay = await api.call('POST', url, manager(), { idempotencyKey, reason: 'changed mind', storeId: XUHUI });
      expect([replay.statusCode, replay.json().refundTxId]).toEqual([200, first.json().refundTxId]);
      const twice = await api.call('POST', url, manager(), { idempotencyKey: key(), reason: 'again' });
      expect([twice.statusCode, codeOf(twice)]).toEqual([409, 'ALREADY_REFUNDED']);
      expect((await api.call('GET', `/catalog/items/${item.id}`, hq())).json().stock).toBe(5);
      const listed = await api.call('GET', `/members/${memberId}/coupons`, manager());
      expect(listed.statusCode, listed.body).toBe(200);
      const use = await checkout(memberId, coupon.code);
      expect([use.statusCode, codeOf(use), use.json().error.message]).toEqual([
        409,
        'COUPON_NOT_APPLICABLE',
        '此券已作废（兑换已退款） / This coupon was cancelled: its redemption was refunded.',
      ]);
      const { rows } = await world.db.query('SELECT action, actor_id, reason FROM coupon_audit WHERE coupon_id = $1 ORDER BY id', [coupon.couponId]);
      expect(rows.map((r) => r.action)).toEqual(['issued', 'voided']);
      expect(rows[1]).toMatchObject({ actor_id: world.org.operatorIds.xuhui.manager, reason: 'changed mind' });
      // The refunded redemption no longer counts, and replaying the redemption shows the coupon voided.
      expect((await api.redeem(memberId, item.id)).statusCode).toBe(201);
      await expectLedgerConsistent(world.db);
    });

    it('a refund is refused while the coupon is used, changing nothing; after the checkout is refunded it goes through', async () => {
      const item = await couponItem(await template());
      const memberId = await api.member({ points: 1_000 });
      const { coupon, txId } = (await api.redeem(memberId, item.id)).json();
      const paid = await checkout(memberId, coupon.code);
      expect(paid.statusCode, paid.body).toBe(201);
      const before = await snapshot();
      const pointsBefore = await points(memberId);
      const refused = await api.call('POST', `/catalog/redemptions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'no' });
      expect([refused.statusCode, codeOf(refused), refused.json().error.message]).toEqual([
        409,
        'COUPON_ALREADY_USED',
        expect.stringContaining(`This coupon was already used in checkout ${paid.json().receipt.checkoutId}; refund that checkout first.`),
      ]);
      // The ledger's own refund route hands the refund to the catalog too, and is refused alike.
      const generic = await api.call('POST', `/transactions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'no' });
      expect([generic.statusCode, codeOf(generic)]).toEqual([409, 'COUPON_ALREADY_USED']);
      expect(await snapshot()).toEqual(before);
      expect(await points(memberId)).toBe(pointsBefore);

      const back = await api.call('POST', `/checkout/${paid.json().receipt.checkoutId}/refund`, manager(), { idempotencyKey: key(), reason: 'returned' });
      expect(back.statusCode, back.body).toBe(201);
      const refunded = await api.call('POST', `/catalog/redemptions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'returned' });
      expect([refunded.statusCode, refunded.json().coupon.status]).toEqual([201, 'voided']);
      await expectLedgerConsistent(world.db);
    });

    it('a refund is refused once the coupon expired (its points are forfeited, like an expired voucher), changing nothing', async () => {
      const item = await couponItem(await template({ conditions: { validUntil: '2099-01-01T00:00:00Z' } }));
      const memberId = await api.member({ points: 1_000 });
      const { coupon, txId } = (await api.redeem(memberId, item.id)).json();
      expect(coupon.status).toBe('issued');
      await expireCoupons(world.db, { asOf: new Date('2099-01-01T00:00:00Z') });
      const before = await snapshot();
      const refused = await api.call('POST', `/catalog/redemptions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'too late' });
      expect([refused.statusCode, codeOf(refused), refused.json().error.message]).toEqual([
        409,
        'COUPON_NOT_APPLICABLE',
        '此券已过期，不能退款 / This coupon has expired; it cannot be refunded.',
      ]);
      const generic = await api.call('POST', `/transactions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'too late' });
      expect([generic.statusCode, codeOf(generic)]).toEqual([409, 'COUPON_NOT_APPLICABLE']);
      expect(await snapshot()).toEqual(before);
      expect(await points(memberId)).toBe(500);
    });

    it('an unknown redemption is 404; a voucher redemption is not refunded here', async () => {
      const unknown = await api.call('POST', `/catalog/redemptions/${'01900000-0000-7000-8000-000000000000'}/refunds`, manager(), { idempotencyKey: key(), reason: 'x' });
      expect([unknown.statusCode, codeOf(unknown)]).toEqual([404, 'TRANSACTION_NOT_FOUND']);
      const voucherItem = await api.item();
      const { txId } = (await api.redeem(await api.member(), voucherItem.id)).json();
      const viaCoupon = await api.call('POST', `/catalog/redemptions/${txId}/refunds`, manager(), { idempotencyKey: key(), reason: 'x' });
      expect([viaCoupon.statusCode, viaCoupon.json().error]).toEqual([
        404,
        { code: 'TRANSACTION_NOT_FOUND', message: `没有交易编号为 ${txId} 的优惠券兑换 / No coupon redemption has the transaction id ${txId}` },
      ]);
    });
  });

  it('every catalog route is in the OpenAPI document with the catalog tag', async () => {
    const doc = (await world.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { tags?: string[]; summary?: string }>> };
    const catalogPaths = Object.entries(doc.paths).filter(([path]) => /catalog|voucher/.test(path));
    expect(catalogPaths.map(([path]) => path).sort()).toEqual([
      '/api/v1/catalog/items',
      '/api/v1/catalog/items/{itemId}',
      '/api/v1/catalog/items/{itemId}/audit',
      '/api/v1/catalog/items/{itemId}/stock-adjustments',
      '/api/v1/catalog/redemptions',
      '/api/v1/catalog/redemptions/{txId}/refunds',
      '/api/v1/jobs/voucher-expiry',
      '/api/v1/members/{memberId}/vouchers',
      '/api/v1/vouchers/signing-key',
      '/api/v1/vouchers/verifications',
      '/api/v1/vouchers/write-offs',
      '/api/v1/vouchers/{code}',
      '/api/v1/vouchers/{code}/refunds',
    ]);
    for (const [, operations] of catalogPaths) {
      for (const operation of Object.values(operations)) expect(operation).toMatchObject({ tags: ['catalog'], summary: expect.any(String) });
    }
  });
});

describe.each(BACKENDS)('concurrency on %s', (backend) => {
  let world: World;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    world = await openWorld(backend);
    api = client(world);
  });
  afterAll(() => world.app.close());

  it('acceptance: 50 concurrent redemptions of an item with stock 10 → exactly 10 vouchers, points charged exactly 10 times', async () => {
    const item = await api.item({ stock: 10 });
    const members = await Promise.all(Array.from({ length: 50 }, () => api.member({ points: 500 })));
    const replies = await Promise.all(members.map((memberId) => api.redeem(memberId, item.id)));
    const statuses = replies.map((reply) => reply.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    for (const reply of replies.filter((r) => r.statusCode === 409)) expect(codeOf(reply)).toBe('OUT_OF_STOCK');
    const { rows } = await world.db.query<{ vouchers: number; charged: number; stock: number; spent: number }>(
      `SELECT (SELECT count(*)::int FROM vouchers WHERE item_id = $1) AS vouchers,
              (SELECT count(*)::int FROM ledger_transactions t JOIN vouchers v ON v.ledger_tx_id = t.id WHERE v.item_id = $1) AS charged,
              (SELECT stock FROM catalog_items WHERE id = $1) AS stock,
              (SELECT count(*)::int FROM accounts WHERE kind = 'points' AND member_id = ANY($2::uuid[]) AND balance = 0) AS spent`,
      [item.id, members],
    );
    expect(rows[0]).toEqual({ vouchers: 10, charged: 10, stock: 0, spent: 10 });
    await expectLedgerConsistent(world.db);
  });

  it('a coupon item under concurrency: 20 buyers for 5 units → 5 coupons; 5 resends of one request → one coupon', async () => {
    const template = await api.call('POST', '/coupon-templates', world.org.tokens.hq.manager, {
      nameZh: '立减10元', nameEn: '¥10 off', offer: { kind: 'amount_off', amountOffFen: 1_000 }, conditions: {}, reason: 'catalog coupon',
    });
    const item = await api.item({ kind: 'coupon', couponTemplateId: template.json().templateId, stock: 5 });
    const members = await Promise.all(Array.from({ length: 20 }, () => api.member({ points: 500 })));
    const replies = await Promise.all(members.map((memberId) => api.redeem(memberId, item.id)));
    expect(replies.filter((r) => r.statusCode === 201)).toHaveLength(5);
    const resendKey = key('resend');
    const resender = await api.member({ points: 5_000 });
    await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.hq.manager, { delta: 5, reason: 'restock' });
    const resends = await Promise.all(Array.from({ length: 5 }, () => api.redeem(resender, item.id, undefined, resendKey)));
    expect(new Set(resends.map((r) => r.json().coupon.couponId)).size).toBe(1);
    const { rows } = await world.db.query<{ coupons: number; redemptions: number; stock: number }>(
      `SELECT (SELECT count(*)::int FROM coupons c JOIN catalog_coupon_redemptions r ON r.coupon_id = c.id WHERE r.item_id = $1) AS coupons,
              (SELECT count(*)::int FROM ledger_transactions t JOIN catalog_coupon_redemptions r ON r.ledger_tx_id = t.id WHERE r.item_id = $1) AS redemptions,
              (SELECT stock FROM catalog_items WHERE id = $1) AS stock`,
      [item.id],
    );
    expect(rows[0]).toEqual({ coupons: 6, redemptions: 6, stock: 4 });
    expect(await world.ledger.getMember(resender).then((m) => m.balances.points)).toBe(4_500);
    await expectLedgerConsistent(world.db);
  });

  it('per-store stock under concurrency: 20 buyers, 3 units at the store → 3 vouchers, the store stock ends at 0', async () => {
    const item = await api.item({ stock: 100, perStoreStock: true });
    await api.call('POST', `/catalog/items/${item.id}/stock-adjustments`, world.org.tokens.xuhui.manager, { storeId: XUHUI, delta: 3, reason: 'delivery' });
    const members = await Promise.all(Array.from({ length: 20 }, () => api.member({ points: 500 })));
    const replies = await Promise.all(members.map((memberId) => api.redeem(memberId, item.id)));
    expect(replies.filter((r) => r.statusCode === 201)).toHaveLength(3);
    expect(replies.filter((r) => r.statusCode === 409 && codeOf(r) === 'OUT_OF_STOCK')).toHaveLength(17);
    const after = (await api.call('GET', `/catalog/items/${item.id}`, world.org.tokens.hq.manager)).json();
    expect(after).toMatchObject({ stock: 97, storeStock: [{ storeId: XUHUI, stock: 0 }] });
  });

  it('per-member limit under concurrency: 10 parallel redemptions by one member with a limit of 2 → exactly 2', async () => {
    const item = await api.item({ stock: null, memberLimit: { count: 2, period: 'month' } });
    const memberId = await api.member({ points: 10_000 });
    const replies = await Promise.all(Array.from({ length: 10 }, () => api.redeem(memberId, item.id)));
    expect(replies.filter((r) => r.statusCode === 201)).toHaveLength(2);
    const refused = replies.filter((r) => r.statusCode === 409);
    expect(refused.map(codeOf)).toEqual(Array(8).fill('REDEMPTION_LIMIT_REACHED'));
    expect((await world.ledger.getMember(memberId)).balances.points).toBe(9_000);
  });

  it("a store's spend cap under concurrency: 10 buyers, room for 3 redemptions → exactly 3 vouchers, the budget ends at its cap", async () => {
    const item = await api.item({ stock: null });
    const capped = withSpendCaps({ scope: 'store', period: 'day', limitPoints: 1_500 });
    const members = await Promise.all(Array.from({ length: 10 }, () => api.member({ points: 500 })));
    const at = new Date('2026-10-01T12:00:00+08:00');
    const results = await Promise.allSettled(
      members.map((memberId) => redeem({ db: world.db, ledger: world.ledger, voucherKey, rules: capped }, { idempotencyKey: key('race'), memberId, itemId: item.id, storeId: XUHUI, actor: SYSTEM, at })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    const { rows } = await world.db.query<{ vouchers: number }>('SELECT count(*)::int AS vouchers FROM vouchers WHERE item_id = $1', [item.id]);
    expect([rows[0]!.vouchers, await spendUsed(world.db, XUHUI, '2026-10-01')]).toEqual([3, 1_500]);
    await expectLedgerConsistent(world.db);
  });

  it('two cashiers writing off the same voucher at once: exactly one succeeds', async () => {
    const item = await api.item();
    const memberId = await api.member();
    const { voucher } = (await api.redeem(memberId, item.id)).json();
    const replies = await Promise.all(
      [world.org.tokens.xuhui.cashier, world.org.tokens.xuhui.manager, world.org.tokens.jingan.cashier].map((token) =>
        api.call('POST', '/vouchers/write-offs', token, { voucher: voucher.text }),
      ),
    );
    expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    const { rows } = await world.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM voucher_events WHERE voucher_id = $1 AND event = 'written_off'`, [voucher.voucherId]);
    expect(rows[0]!.n).toBe(1);
  });
});
