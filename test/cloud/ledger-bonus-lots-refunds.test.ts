import { readdir, readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import { couponErrors } from '../../cloud/coupons/index.ts';
import { Ledger, storedValueSpendLegs, systemAccounts } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import type { PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { splitStoredValueSpend, type SpendingOrder } from '../../shared/rules/stored-value.ts';
import type { TopUpBonusRule } from '../../shared/rules/topup-bonus.ts';
import { seedOrg } from '../helpers/org.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, refusal, rowCounts, useDatabases, testLedger } from './support.ts';

const clerk: Actor = { type: 'operator', id: 'clerk-7' };
const databases = useDatabases();

/** 充100送20, 充200送50 +100 points, 充300送100 +300 points; a holiday 充100送30 during the Spring Festival week. */
const bonusRules: TopUpBonusRule[] = [
  { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000, validUntil: '2026-02-01T00:00:00+08:00' },
  { id: 'cny100', thresholdFen: 10_000, bonusFen: 3_000, validFrom: '2026-02-01T00:00:00+08:00', validUntil: '2026-02-08T00:00:00+08:00' },
  { id: 'r100b', thresholdFen: 10_000, bonusFen: 2_000, validFrom: '2026-02-08T00:00:00+08:00' },
  { id: 'r200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 100 },
  { id: 'r300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 300 },
];
const yearly: PointsExpiryPolicy = { kind: 'end_of_year', timeZone: 'Asia/Shanghai' };
const june = new Date('2026-06-01T10:00:00+08:00');

describe.each(BACKENDS)('ledger: top-up bonus, spending order, points lots and refunds on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
    await seedOrg(db);
  });

  const newMember = async () => (await ledger.createMember({ name: 'Li Lei', actor: clerk })).memberId;
  const balances = async (memberId: string) => (await ledger.getMember(memberId)).balances;
  const lotsOf = async (memberId: string) => (await ledger.pointsLots(memberId)).lots;
  const topUp = (memberId: string, amountFen: number, extra: Record<string, unknown> = {}) =>
    ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen, actor: clerk, bonusRules, at: june, pointsExpiry: yearly, ...extra });

  describe('top-up bonus', () => {
    it.each([
      [9_999, 0, 0, null],
      [10_000, 2_000, 0, 'r100b'],
      [20_000, 5_000, 100, 'r200'],
      [30_000, 10_000, 300, 'r300'],
    ])('%i fen → bonus %i fen and %i points (rule %s) in one transaction', async (amountFen, bonusFen, points, ruleId) => {
      const memberId = await newMember();
      const result = await topUp(memberId, amountFen);
      expect(result.topUp).toEqual({ principalFen: amountFen, bonusFen, bonusPoints: points, ruleId });
      expect(result.member.balances).toEqual({ principalFen: amountFen, bonusFen, points });
      const legs = await db.query('SELECT count(*)::int AS n FROM postings WHERE tx_id = $1', [result.txId]);
      expect(legs.rows[0]).toEqual({ n: 2 + (bonusFen ? 2 : 0) + (points ? 2 : 0) });
      if (points) {
        expect(await lotsOf(memberId)).toMatchObject([{ points, remaining: points, awardTxId: result.txId, expiresAt: '2026-12-31T16:00:00.000Z' }]);
      }
      await expectLedgerConsistent(db);
    });

    it.each([
      ['2026-01-31T23:59:59.999+08:00', 'r100', 2_000],
      ['2026-02-01T00:00:00+08:00', 'cny100', 3_000],
      ['2026-02-08T00:00:00+08:00', 'r100b', 2_000],
    ])('uses the rules active at the instant it happened (%s → %s), not now', async (at, ruleId, bonusFen) => {
      const result = await topUp(await newMember(), 10_000, { at: new Date(at) });
      expect(result.topUp).toMatchObject({ ruleId, bonusFen });
    });

    it('replays with the same result; the same key with other rules is a conflict', async () => {
      const memberId = await newMember();
      const request = { idempotencyKey: key(), memberId, amountFen: 20_000, actor: clerk, bonusRules, at: june };
      const first = await ledger.topUpCash(request);
      expect(await ledger.topUpCash(request)).toEqual({ ...first, replay: true });
      const otherRules = bonusRules.map((rule) => (rule.id === 'r200' ? { ...rule, id: 'r200-renamed' } : rule));
      expect((await refusal(ledger.topUpCash({ ...request, bonusRules: otherRules }))).code).toBe('IDEMPOTENCY_CONFLICT');
      expect((await balances(memberId)).bonusFen).toBe(5_000);
    });

    it('refuses invalid rules, policies and instants, changing nothing', async () => {
      const memberId = await newMember();
      const before = await rowCounts(db);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ bonusRules: [{ id: 'x', thresholdFen: 0, bonusFen: 1 }] }, 'RULES_INVALID'],
        [{ pointsExpiry: { kind: 'end_of_year', timeZone: 'Nowhere/City' } }, 'RULES_INVALID'],
        [{ at: new Date('nope') }, 'INVALID_INPUT'],
        [{ storeId: 'no-such-store' }, 'STORE_NOT_FOUND'],
      ];
      for (const [extra, code] of cases) expect((await refusal(topUp(memberId, 10_000, extra))).code).toBe(code);
      expect(await rowCounts(db)).toEqual(before);
    });

    it('records the store it happened at', async () => {
      const result = await topUp(await newMember(), 500, { storeId: 'sh-xuhui' });
      const { rows } = await db.query('SELECT store_id FROM ledger_transactions WHERE id = $1', [result.txId]);
      expect(rows[0]).toEqual({ store_id: 'sh-xuhui' });
    });
  });

  describe('paying by spending order', () => {
    it.each<[SpendingOrder, number, number, number]>([
      ['principal_first', 11_000, 10_000, 1_000],
      ['bonus_first', 2_500, 500, 2_000],
      ['proportional', 1_000, 834, 166],
    ])('%s: pay %i → principal %i + bonus %i', async (spendingOrder, amountFen, principal, bonus) => {
      const memberId = await newMember();
      await topUp(memberId, 10_000);
      const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen, actor: clerk, spendingOrder });
      expect(paid.member.balances).toMatchObject({ principalFen: 10_000 - principal, bonusFen: 2_000 - bonus });
      await expectLedgerConsistent(db);
    });

    it('refuses more than principal + bonus, and an unknown order, changing nothing', async () => {
      const memberId = await newMember();
      await topUp(memberId, 10_000);
      const before = await rowCounts(db);
      const short = await refusal(ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 12_001, actor: clerk, spendingOrder: 'bonus_first' }));
      expect(short).toMatchObject({ code: 'INSUFFICIENT_BALANCE', message: '储值余额不足：余额 ¥120.00，需要 ¥120.01 / Not enough stored value: the balance is ¥120.00 but ¥120.01 is needed' });
      const order = await refusal(ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 1, actor: clerk, spendingOrder: 'cheap' as SpendingOrder }));
      expect(order.code).toBe('INVALID_INPUT');
      expect(await rowCounts(db)).toEqual(before);
    });

    it('splits each of many concurrent payments from the balances left by the one before it', async () => {
      const memberId = await newMember();
      await topUp(memberId, 30_000); // 300.00 principal + 100.00 bonus
      const payments = Array.from({ length: 12 }, (_, i) => ({
        idempotencyKey: key(), memberId, amountFen: 1_000 + 37 * i, actor: clerk, spendingOrder: 'proportional' as const,
      }));
      await Promise.all(payments.map((p) => ledger.payWithStoredValue(p)));
      const { rows } = await db.query<{ tx_id: string; kind: string; amount: number; balance_after: number }>(
        `SELECT p.tx_id, a.kind, p.amount, p.balance_after FROM postings p JOIN accounts a ON a.id = p.account_id
          JOIN ledger_transactions t ON t.id = p.tx_id
         WHERE a.member_id = $1 AND t.kind = 'stored_value_payment' ORDER BY p.id`,
        [memberId],
      );
      // Replay the payments in commit order: each split must be the rule applied to the balances before it.
      let before = { principalFen: 30_000, bonusFen: 10_000 };
      const txIds = [...new Set(rows.map((r) => r.tx_id))];
      expect(txIds).toHaveLength(12);
      for (const txId of txIds) {
        const legs = rows.filter((r) => r.tx_id === txId);
        const principal = -(legs.find((l) => l.kind === 'stored_principal')?.amount ?? 0);
        const bonus = -(legs.find((l) => l.kind === 'stored_bonus')?.amount ?? 0);
        expect({ principalFen: principal, bonusFen: bonus }).toEqual(splitStoredValueSpend('proportional', before, principal + bonus));
        before = { principalFen: before.principalFen - principal, bonusFen: before.bonusFen - bonus };
      }
      expect(await balances(memberId)).toMatchObject(before);
      await expectLedgerConsistent(db);
    });

    it('lets other modules build legs under the lock (storedValueSpendLegs) with effects in the same transaction', async () => {
      const memberId = await newMember();
      await topUp(memberId, 10_000);
      const posted = await ledger.post({
        kind: 'card_fee', owner: 'cards', idempotencyKey: key(), memberId, actor: clerk, reason: 'Replacement card fee',
        intent: { feeFen: 2_500 },
        legs: (locked) => ({ legs: storedValueSpendLegs('bonus_first', locked, 2_500, systemAccounts.feesReceived()), context: locked.bonusFen }),
        effects: async (tx, { txId, context: bonusBefore }) => {
          const { rows } = await tx.query('SELECT owner FROM ledger_transactions WHERE id = $1', [txId]);
          return { owner: rows[0], bonusBefore };
        },
      });
      expect(posted.member.balances).toMatchObject({ principalFen: 9_500, bonusFen: 0 });
      // The builder's context reaches the effects, and what they return is the transaction's outcome, kept for replays.
      expect(posted.outcome).toEqual({ owner: { owner: 'cards' }, bonusBefore: 2_000 });
    });
  });

  describe('points lots', () => {
    it('credits open lots and debits take the soonest-expiring first', async () => {
      const memberId = await newMember();
      await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 50, actor: clerk, reason: 'Welcome gift' }); // never expires
      await topUp(memberId, 20_000, { at: new Date('2026-03-01T10:00:00+08:00') }); // 100, expires 2027-01-01
      await topUp(memberId, 20_000, { at: new Date('2025-12-01T10:00:00+08:00') }); // 100, expires 2026-01-01
      await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 150, item: 'Mug', actor: clerk });
      expect((await lotsOf(memberId)).map((l) => [l.expiresAt, l.remaining])).toEqual([
        ['2026-12-31T16:00:00.000Z', 50],
        [null, 50],
      ]);
      await expectLedgerConsistent(db);
    });

    it('grants adjustment points with an expiry policy counted from now', async () => {
      const memberId = await newMember();
      const policy: PointsExpiryPolicy = { kind: 'months_after_award', months: 1200, timeZone: 'Asia/Shanghai' };
      await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 10, actor: clerk, reason: 'Gift', pointsExpiry: policy });
      const [lot] = await lotsOf(memberId);
      expect(Date.parse(lot!.expiresAt!)).toBeGreaterThan(Date.now() + 99 * 365 * 86_400_000);
      const bad = await refusal(ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 1, actor: clerk, reason: 'x', pointsExpiry: { ...policy, months: 0 } }));
      expect(bad.code).toBe('RULES_INVALID');
    });

    it('expires due lots once per lot, idempotently, and warns before', async () => {
      const memberId = await newMember();
      await topUp(memberId, 30_000, { at: new Date('2025-07-01T10:00:00+08:00') }); // 300 points, expire 2026-01-01 00:00 +08
      await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 20, actor: clerk, reason: 'Gift' });
      const soon = await ledger.pointsExpiringSoon(memberId, 30, new Date('2025-12-15T00:00:00+08:00'));
      expect(soon).toMatchObject({ points: 300, batches: [{ expiresAt: new Date('2025-12-31T16:00:00Z'), points: 300 }] });

      const early = await ledger.expirePoints({ asOf: new Date('2025-12-31T15:59:59.999Z') });
      expect(early.expiredPoints).toBe(0);
      const run = await ledger.expirePoints({ asOf: new Date('2025-12-31T16:00:00Z'), batchSize: 2 });
      expect(run.expiredPoints).toBeGreaterThanOrEqual(300);
      expect((await balances(memberId)).points).toBe(20);
      expect(await ledger.expirePoints({ asOf: new Date('2025-12-31T16:00:00Z') })).toMatchObject({ expiredLots: 0, expiredPoints: 0 });
      const { rows } = await db.query<{ kind: string; actor_id: string }>(
        `SELECT t.kind, t.actor_id FROM ledger_transactions t WHERE t.member_id = $1 AND t.kind = 'points_expiry'`,
        [memberId],
      );
      expect(rows).toEqual([{ kind: 'points_expiry', actor_id: 'points-expiry-job' }]);
      await expectLedgerConsistent(db);
    });
  });

  describe('refunds', () => {
    const refund = (originalTxId: string, extra: Record<string, unknown> = {}) =>
      ledger.refund({ originalTxId, idempotencyKey: key('refund'), actor: clerk, reason: 'Customer changed mind', ...extra });

    it('reverses a payment exactly, once; a replay returns the first result', async () => {
      const memberId = await newMember();
      await topUp(memberId, 10_000);
      const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 1_000, actor: clerk, spendingOrder: 'proportional' });
      const request = { originalTxId: paid.txId, idempotencyKey: key(), actor: clerk, reason: 'Wrong item', storeId: 'sh-jingan' };
      const refunded = await ledger.refund(request);
      expect(refunded.member.balances).toEqual({ principalFen: 10_000, bonusFen: 2_000, points: 0 });
      expect(await ledger.refund(request)).toEqual({ ...refunded, replay: true });
      expect((await refusal(refund(paid.txId))).code).toBe('ALREADY_REFUNDED');
      const postings = await db.query<{ total: number }>(
        `SELECT coalesce(sum(p.amount), 0)::bigint AS total FROM postings p WHERE p.tx_id IN ($1, $2) GROUP BY p.account_id HAVING sum(p.amount) <> 0`,
        [paid.txId, refunded.txId],
      );
      expect(postings.rows).toEqual([]);
      expect((await refusal(refund(refunded.txId))).code).toBe('NOT_REFUNDABLE');
      await expectLedgerConsistent(db);
    });

    it.each([
      ['untouched bonus', 0, 10_000, 0],
      ['part of the bonus spent (bonus first)', 1_500, 8_500, 0],
      ['all the bonus and some principal left', 2_000, 8_000, 0],
    ])('refunds a top-up: principal only, %s', async (_, spentBonus, cashBack, bonusLeft) => {
      const memberId = await newMember();
      await topUp(memberId, 5_000); // other money that must stay
      const top = await topUp(memberId, 10_000);
      if (spentBonus) {
        await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: spentBonus, actor: clerk, spendingOrder: 'bonus_first' });
      }
      const cashBefore = await cashAccountTotal();
      const refunded = await refund(top.txId);
      expect(refunded.member.balances).toEqual({ principalFen: 5_000, bonusFen: bonusLeft, points: 0 });
      expect((await cashAccountTotal()) - cashBefore).toBe(cashBack);
      await expectLedgerConsistent(db);
    });

    async function cashAccountTotal(): Promise<number> {
      const { rows } = await db.query<{ total: number }>(
        `SELECT coalesce(sum(p.amount), 0)::bigint AS total FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.system_code = 'cash_received:counter'`,
      );
      return rows[0]!.total;
    }

    it('refuses a top-up whose principal was spent, and reverses its bonus points', async () => {
      const memberId = await newMember();
      const top = await topUp(memberId, 20_000);
      await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 20_001, actor: clerk });
      const before = await rowCounts(db);
      const spent = await refusal(refund(top.txId));
      expect(spent).toMatchObject({ code: 'NOT_REFUNDABLE', message: expect.stringContaining('principal of this top-up has already been spent') });
      expect(await rowCounts(db)).toEqual(before);

      const other = await newMember();
      const withPoints = await topUp(other, 20_000);
      const refunded = await refund(withPoints.txId);
      expect(refunded.member.balances).toEqual({ principalFen: 0, bonusFen: 0, points: 0 });
      expect(await lotsOf(other)).toEqual([]);
    });

    it('restores exactly the lots a redemption took from', async () => {
      const memberId = await newMember();
      await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 40, actor: clerk, reason: 'Gift' });
      await topUp(memberId, 20_000); // 100 points expiring at the end of 2026
      const lotsBefore = await lotsOf(memberId);
      const redeemed = await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 120, item: 'Mug', actor: clerk });
      expect((await lotsOf(memberId)).map((l) => l.remaining)).toEqual([20]);
      await refund(redeemed.txId);
      expect(await lotsOf(memberId)).toEqual(lotsBefore);
    });

    it('takes spent awarded points back from other lots, or refuses when the member has too few', async () => {
      const memberId = await newMember();
      const top = await topUp(memberId, 20_000); // 100 points
      await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 80, item: 'Mug', actor: clerk });
      const before = await rowCounts(db);
      const refused = await refusal(refund(top.txId));
      expect(refused).toMatchObject({ code: 'NOT_REFUNDABLE', message: expect.stringContaining('only 20 points') });
      expect(await rowCounts(db)).toEqual(before);

      await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 90, actor: clerk, reason: 'Gift' });
      const refunded = await refund(top.txId);
      expect(refunded.member.balances.points).toBe(10);
      expect((await lotsOf(memberId)).map((l) => [l.expiresAt, l.remaining])).toEqual([[null, 10]]);
      await expectLedgerConsistent(db);
    });

    it('does not take back awarded points that already expired; restored expired points expire again', async () => {
      const memberId = await newMember();
      const top = await topUp(memberId, 20_000, { at: new Date('2025-06-01T10:00:00+08:00') }); // 100 points, expire 2026-01-01
      const redeemed = await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 30, item: 'Pen', actor: clerk });
      await ledger.expirePoints({ asOf: new Date('2026-01-02T00:00:00+08:00') }); // the other 70 expire
      expect((await balances(memberId)).points).toBe(0);
      await refund(redeemed.txId); // the 30 go back to their (expired) lot
      expect((await balances(memberId)).points).toBe(30);
      await ledger.expirePoints({ asOf: new Date('2026-01-02T00:00:00+08:00') });
      expect((await balances(memberId)).points).toBe(0);
      const refunded = await refund(top.txId, {}); // 70 expired + 30 expired: nothing left to take back
      expect(refunded.member.balances).toEqual({ principalFen: 0, bonusFen: 0, points: 0 });
      await expectLedgerConsistent(db);
    });

    it('refuses unknown, malformed and non-refundable transactions and bad input, changing nothing', async () => {
      const memberId = await newMember();
      const adjusted = await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 5, actor: clerk, reason: 'Gift' });
      const paid = await (async () => {
        await topUp(memberId, 1_000);
        return ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 100, actor: clerk });
      })();
      const before = await rowCounts(db);
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => refund('01900000-0000-7000-8000-000000000000'), 'TRANSACTION_NOT_FOUND'],
        [() => refund('not-a-tx'), 'TRANSACTION_NOT_FOUND'],
        [() => refund(adjusted.txId), 'NOT_REFUNDABLE'],
        [() => refund(paid.txId, { reason: ' ' }), 'INVALID_INPUT'],
        [() => refund(paid.txId, { idempotencyKey: 'short' }), 'INVALID_INPUT'],
        [() => refund(paid.txId, { storeId: 'nowhere' }), 'STORE_NOT_FOUND'],
      ];
      for (const [attempt, code] of cases) expect((await refusal(attempt())).code).toBe(code);
      expect(await rowCounts(db)).toEqual(before);
    });

    it('refunds a transaction exactly once when different refund requests race', async () => {
      const memberId = await newMember();
      await topUp(memberId, 10_000);
      const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 3_000, actor: clerk });
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => refund(paid.txId)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const lost of results.filter((r) => r.status === 'rejected')) expect(lost.reason).toMatchObject({ code: 'ALREADY_REFUNDED' });
      expect((await balances(memberId)).principalFen).toBe(10_000);
    });

    it('hands the refund to the module that owns the transaction, in the refund transaction; its refusal rolls everything back', async () => {
      const owning = await testLedger(db);
      let refuse = true;
      const seen: string[] = [];
      owning.reverseTransactionsOf('shop', {
        reverse: async (_tx, refund) => {
          if (refuse) throw couponErrors.COUPON_ALREADY_USED({ zh: '此券已使用', en: 'no' });
          seen.push(refund.refundTxId);
        },
        refusals: [couponErrors.COUPON_ALREADY_USED],
      });
      expect(owning.reverserRefusals().map((refusal) => refusal.code)).toContain('COUPON_ALREADY_USED');
      const memberId = await newMember();
      await topUp(memberId, 1_000);
      const sale = (owner: string) =>
        owning.post({
          kind: 'stored_value_payment', owner, idempotencyKey: key(), memberId, actor: clerk, reason: 'Sale',
          legs: [{ account: 'stored_principal', amount: -100 }, { account: systemAccounts.storedValueSpent(), amount: 100 }],
        });
      const paid = await sale('shop');
      const before = await rowCounts(db);
      const refundOf = (txId: string) => owning.refund({ originalTxId: txId, idempotencyKey: key(), actor: clerk, reason: 'returned' });
      expect((await refusal(refundOf(paid.txId))).code).toBe('COUPON_ALREADY_USED');
      expect(await rowCounts(db)).toEqual(before);
      refuse = false;
      const done = await refundOf(paid.txId);
      expect(seen).toEqual([done.txId]);
      // A module that registered no reverser cannot have its transactions refunded: nothing would undo their effects.
      const orphan = await sale('nobody');
      expect((await refusal(refundOf(orphan.txId))).code).toBe('NOT_REFUNDABLE');
    });
  });
});

describe('migration 007 on a ledger with points', () => {
  it('turns each positive points balance into one never-expiring lot', async () => {
    const dir = new URL('../../cloud/db/migrations/', import.meta.url);
    const files = (await readdir(dir)).filter((f) => /^\d{3}_.*\.sql$/.test(f)).sort();
    const pg = await PGlite.create();
    try {
      for (const file of files.filter((f) => f < '007')) await pg.exec(await readFile(new URL(file, dir), 'utf8'));
      await pg.exec(`
        INSERT INTO members (id, name, created_by_type, created_by_id) VALUES
          ('01900000-0000-7000-8000-000000000001', 'Old', 'system', 't'), ('01900000-0000-7000-8000-000000000002', 'Zero', 'system', 't');
        INSERT INTO accounts (id, kind, asset, member_id, balance) VALUES
          (gen_random_uuid(), 'points', 'POINTS', '01900000-0000-7000-8000-000000000001', 420),
          (gen_random_uuid(), 'points', 'POINTS', '01900000-0000-7000-8000-000000000002', 0);`);
      for (const file of files.filter((f) => f.startsWith('007'))) await pg.exec(await readFile(new URL(file, dir), 'utf8'));
      const { rows } = await pg.query('SELECT member_id, points::int AS points, remaining::int AS remaining, expires_at, award_tx_id FROM points_lots');
      expect(rows).toEqual([
        { member_id: '01900000-0000-7000-8000-000000000001', points: 420, remaining: 420, expires_at: null, award_tx_id: null },
      ]);
    } finally {
      await pg.close();
    }
  });
});

describe('REST: refunds, points lots, expiry job', () => {
  const rest = useRestApi(() => databases.open('pglite'));
  const { send: call } = rest;
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await testLedger(rest.db);
  });

  async function paidMember(homeStoreId = 'sh-xuhui') {
    const { memberId } = await ledger.createMember({ name: 'Rest', homeStoreId, actor: clerk });
    await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 20_000, actor: clerk, bonusRules, at: june, pointsExpiry: yearly });
    const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 1_000, actor: clerk });
    return { memberId, paidTxId: paid.txId };
  }

  it('refunds once (201, replay 200, again 409), in scope and by role only', async () => {
    const { memberId, paidTxId } = await paidMember();
    const body = { idempotencyKey: key(), reason: 'Returned goods' };
    expect((await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.xuhui.cashier, body)).statusCode).toBe(403);
    expect((await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.jingan.manager, body)).statusCode).toBe(403);
    const first = await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.xuhui.manager, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ originalTxId: paidTxId, replay: false, member: { memberId, balances: { principalFen: 20_000 } } });
    const { rows } = await rest.db.query('SELECT store_id, actor_id FROM ledger_transactions WHERE id = $1', [first.json().txId]);
    expect(rows[0]).toEqual({ store_id: 'sh-xuhui', actor_id: rest.org.operatorIds.xuhui.manager });
    expect((await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.xuhui.manager, body)).statusCode).toBe(200);
    const again = await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.xuhui.manager, { ...body, idempotencyKey: key() });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toEqual({ code: 'ALREADY_REFUNDED', message: '该交易已退款 / This transaction has already been refunded' });
    const ofRefund = await call('POST', `/transactions/${first.json().txId}/refunds`, rest.org.tokens.xuhui.manager, { ...body, idempotencyKey: key() });
    expect([ofRefund.statusCode, ofRefund.json().error]).toEqual([409, { code: 'NOT_REFUNDABLE', message: '退款交易不能再退款 / A refund cannot itself be refunded' }]);
  });

  it("declares what the owners' reversers can refuse a refund with, besides its own refusals", async () => {
    const spec = (await rest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const responses = spec.paths['/api/v1/transactions/{txId}/refunds'].post.responses;
    const codes = (status: number): string[] => responses[String(status)].content['application/json'].schema.properties.error.properties.code.enum;
    expect(codes(409).sort()).toEqual(
      ['ALREADY_REFUNDED', 'COUPON_ALREADY_USED', 'COUPON_NOT_APPLICABLE', 'IDEMPOTENCY_CONFLICT', 'NOT_REFUNDABLE', 'VOUCHER_ALREADY_USED', 'VOUCHER_EXPIRED'],
    );
    expect(codes(404).sort()).toEqual(['STORE_NOT_FOUND', 'TRANSACTION_NOT_FOUND']);
    expect(responses['400'].description).toContain('INVALID_INPUT');
  });

  it('answers 404 for unknown transactions and 400 for bad bodies', async () => {
    const { paidTxId } = await paidMember();
    const unknown = await call('POST', '/transactions/01900000-0000-7000-8000-00000000abcd/refunds', rest.org.tokens.hq.admin, { idempotencyKey: key(), reason: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('TRANSACTION_NOT_FOUND');
    expect((await call('POST', '/transactions/nope/refunds', rest.org.tokens.hq.admin, { idempotencyKey: key(), reason: 'x' })).statusCode).toBe(404);
    for (const bad of [{ reason: 'x' }, { idempotencyKey: key(), reason: '' }, { idempotencyKey: key(), reason: 'x', extra: 1 }]) {
      expect((await call('POST', `/transactions/${paidTxId}/refunds`, rest.org.tokens.hq.admin, bad)).statusCode).toBe(400);
    }
  });

  it('lists lots and the expiring-soon warning; runs the expiry job for HQ admins only', async () => {
    const { memberId } = await paidMember();
    const lots = await call('GET', `/members/${memberId}/points-lots`, rest.org.tokens.xuhui.cashier);
    expect(lots.statusCode).toBe(200);
    expect(lots.json().lots).toMatchObject([{ points: 100, remaining: 100, expiresAt: '2026-12-31T16:00:00.000Z' }]);
    expect((await call('GET', `/members/${memberId}/points-lots`, rest.org.tokens.tianhe.cashier)).statusCode).toBe(403);
    expect((await call('GET', `/members/${memberId}/points-lots`, rest.org.tokens.xuhui.technician)).statusCode).toBe(403);

    const soon = await call('GET', `/members/${memberId}/points-lots/expiring-soon?withinDays=3660`, rest.org.tokens.xuhui.cashier);
    expect(soon.statusCode).toBe(200);
    expect(soon.json()).toMatchObject({ points: 100, message: '您有 100 积分将于 2026-12-31 后过期 / 100 points expire after 2026-12-31' });
    expect((await call('GET', `/members/${memberId}/points-lots/expiring-soon?withinDays=-1`, rest.org.tokens.xuhui.cashier)).statusCode).toBe(400);

    const asOf = { asOf: '2027-01-01T00:00:00+08:00' };
    expect((await call('POST', '/jobs/points-expiry', rest.org.tokens.east.admin, asOf)).statusCode).toBe(403);
    expect((await call('POST', '/jobs/points-expiry', rest.org.tokens.hq.manager, asOf)).statusCode).toBe(403);
    const run = await call('POST', '/jobs/points-expiry', rest.org.tokens.hq.admin, asOf);
    expect(run.statusCode).toBe(200);
    expect(run.json().expiredPoints).toBeGreaterThanOrEqual(100);
    expect((await ledger.getMember(memberId)).balances.points).toBe(0);
    expect((await call('POST', '/jobs/points-expiry', rest.org.tokens.hq.admin, { asOf: 'tomorrow' })).statusCode).toBe(400);
  });
});
