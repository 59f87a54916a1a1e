import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { budgetAllowance, consumeBudget, listBudgetAlerts } from '../../cloud/program/budgets.ts';
import { pointsSpendLegs } from '../../cloud/ledger/index.ts';
import { checkIn } from '../../cloud/program/check-ins.ts';
import { getReferral, registerReferral, rewardOnPurchase } from '../../cloud/program/referrals.ts';
import { RulesStore, type PublishedRules } from '../../cloud/program/rules-store.ts';
import { recordQualifyingSpend, runTierReview, tierStatus, windowSpendFen } from '../../cloud/program/tiers.ts';
import type { BudgetRules } from '../../shared/rules/budget.ts';
import { DEFAULT_CARD_FEE_SCHEDULE } from '../../shared/rules/cards.ts';
import { DEFAULT_PROGRAM_RULES, programCardFees, programRuleProblems, type ProgramRules } from '../../shared/rules/program.ts';
import { seedOrg, type SeededOrg } from '../helpers/org.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, useDatabases, testLedger } from './support.ts';

const databases = useDatabases();
const actor: Actor = { type: 'operator', id: 'program-test' };
const DAY = 86_400_000;

async function member(db: Database, homeStoreId?: string): Promise<string> {
  return (await (await testLedger(db)).createMember({ name: 'Program Member', actor, ...(homeStoreId ? { homeStoreId } : {}) })).memberId;
}

async function readMember(db: Database, memberId: string) {
  return (await testLedger(db)).readMember(db, memberId);
}

async function points(db: Database, memberId: string): Promise<number> {
  return (await readMember(db, memberId))!.balances.points;
}

/** A ledger transaction of the member to hang a qualifying spend on (a ¥1 top-up). */
async function someTx(db: Database, memberId: string): Promise<string> {
  return (await (await testLedger(db)).topUpCash({ idempotencyKey: key('tx'), memberId, actor, amountFen: 100 })).txId;
}

async function spendAt(db: Database, program: PublishedRules, memberId: string, fen: number, at: Date) {
  const txId = await someTx(db, memberId);
  return db.transaction((tx) => recordQualifyingSpend(tx, { memberId, txId, amountFen: fen }, { program, at, actor, reason: 'test purchase' }));
}

describe('rules store: versioned, immutable, validated', () => {
  let db: Database;
  let store: RulesStore;
  beforeAll(async () => {
    db = await databases.open('pglite');
    store = new RulesStore(db);
  });

  it('starts at version 1 = the defaults, pinned in the database', async () => {
    const v1 = await store.current();
    expect(v1.version).toBe(1);
    expect(v1.rules).toEqual(DEFAULT_PROGRAM_RULES);
    expect(v1.actor).toEqual({ type: 'system', id: 'program-defaults' });
    expect(await store.byVersion(1)).toEqual(v1);
  });

  it('refuses invalid rules with every problem listed and publishes nothing', async () => {
    const bad = { ...DEFAULT_PROGRAM_RULES, spendingOrder: 'random', checkIn: { ...DEFAULT_PROGRAM_RULES.checkIn, points: -1 } };
    const error = await store.publish(bad, actor, 'try').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RULES_INVALID' });
    expect((error as Error).message).toContain('spendingOrder: must be principal_first, bonus_first or proportional');
    expect((error as Error).message).toContain('checkIn: points must be a whole number');
    expect((await store.current()).version).toBe(1);
    await expect(store.publish(DEFAULT_PROGRAM_RULES, actor, '')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('publishes the next version, tells listeners, and keeps old versions unchanged', async () => {
    const seen: number[] = [];
    const off = store.onPublished((p) => seen.push(p.version));
    const changed: ProgramRules = { ...DEFAULT_PROGRAM_RULES, spendingOrder: 'bonus_first' };
    const v2 = await store.publish(changed, actor, 'bonus first from May');
    off();
    expect([v2.version, v2.reason, v2.actor]).toEqual([2, 'bonus first from May', actor]);
    expect(seen).toEqual([2]);
    expect((await store.current()).rules.spendingOrder).toBe('bonus_first');
    expect((await store.byVersion(1)).rules.spendingOrder).toBe('principal_first');
    expect((await store.history()).map((p) => p.version)).toEqual([2, 1]);
    await expect(store.byVersion(99)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.byVersion(0)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('the database refuses to edit or delete a published version', async () => {
    await expect(db.query(`UPDATE program_rule_sets SET reason = 'edited' WHERE version = 1`)).rejects.toThrow(/immutable/);
    await expect(db.query('DELETE FROM program_rule_sets WHERE version = 1')).rejects.toThrow(/immutable/);
  });

  it('concurrent publishers get distinct, gap-free versions', async () => {
    const published = await Promise.all([1, 2, 3].map((i) => store.publish(DEFAULT_PROGRAM_RULES, actor, `parallel ${i}`)));
    expect(published.map((p) => p.version).sort()).toEqual([3, 4, 5]);
  });

  it('card fees: published with the rules, validated with them; a set published before card fees still reads and means the defaults', async () => {
    const cardFees = { ...DEFAULT_CARD_FEE_SCHEDULE, group: { joining: 3_000, annual: 8_800, replacement: 2_000 } };
    const withFees = await store.publish({ ...DEFAULT_PROGRAM_RULES, cardFees }, actor, 'group cards ¥88 a year');
    expect(programCardFees((await store.byVersion(withFees.version)).rules)).toEqual(cardFees);
    const bad = { ...DEFAULT_PROGRAM_RULES, cardFees: { ...cardFees, staff: {}, vip: { joining: 0, annual: 0.5, replacement: 0 } } };
    await expect(store.publish(bad, actor, 'typo')).rejects.toMatchObject({
      code: 'RULES_INVALID',
      message: expect.stringContaining('cardFees: staff: unknown card type (the types are personal, supplementary, group, vip); cardFees: vip.annual: must be a whole number of fen ≥ 0, got 0.5'),
    });

    // A version as an earlier hub wrote it, straight into the table: no cardFees section.
    const { cardFees: _none, ...before } = DEFAULT_PROGRAM_RULES;
    const version = withFees.version + 1;
    await db.query(
      `INSERT INTO program_rule_sets (version, rules, actor_type, actor_id, reason) VALUES ($1, $2::jsonb, 'system', 'earlier-hub', 'before card fees')`,
      [version, JSON.stringify(before)],
    );
    const old = await store.current();
    expect(old.version).toBe(version);
    expect(old.rules).toEqual(before);
    expect(programRuleProblems(old.rules)).toEqual([]);
    expect(programCardFees(old.rules)).toEqual(DEFAULT_CARD_FEE_SCHEDULE);
    // An operator can publish it again unchanged (the form they loaded) without adding the section.
    expect((await store.publish(old.rules, actor, 'unchanged')).version).toBe(version + 1);
  });
});

describe('tiers: immediate upgrade, qualifying spend, status', () => {
  let db: Database;
  let program: PublishedRules;
  beforeAll(async () => {
    db = await databases.open('pglite');
    program = await new RulesStore(db).current();
  });

  it('stored-value payments count, top-ups do not, a refunded payment stops counting; the upgrade shows in the payment’s own answer', async () => {
    const ledger = await testLedger(db);
    const id = await member(db);
    await ledger.topUpCash({ idempotencyKey: key(), memberId: id, actor, amountFen: 200_000 });
    const before = await readMember(db, id);
    expect(before!.tier).toBe('standard');
    const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId: id, actor, amountFen: 100_000 });
    expect(await windowSpendFen(db, id, new Date(), 365)).toBe(100_000);
    // Upgraded in the payment's transaction: its answer already shows the new tier.
    expect(paid.member.tier).toBe('silver');
    const after = await readMember(db, id);
    expect(after!.tier).toBe('silver');
    expect(after!.version).toBeGreaterThan(before!.version);
    const changes = await db.query<{ outcome: string }>('SELECT outcome FROM member_tier_changes WHERE member_id = $1', [id]);
    expect(changes.rows).toEqual([{ outcome: 'upgraded' }]);

    await ledger.refund({ originalTxId: paid.txId, idempotencyKey: key(), actor, reason: 'returned' });
    expect(await windowSpendFen(db, id, new Date(), 365)).toBe(0);
    // A refund never lowers the tier at once: only the review does.
    expect((await readMember(db, id))!.tier).toBe('silver');
    await expectLedgerConsistent(db);
  });

  it('window edges: spend exactly windowDays ago has left the window, spend at the instant counts', async () => {
    const id = await member(db);
    const t0 = new Date('2026-01-10T00:00:00Z');
    await spendAt(db, program, id, 50_000, t0);
    expect(await windowSpendFen(db, id, t0, 365)).toBe(50_000);
    expect(await windowSpendFen(db, id, new Date(t0.getTime() + 365 * DAY - 1), 365)).toBe(50_000);
    expect(await windowSpendFen(db, id, new Date(t0.getTime() + 365 * DAY), 365)).toBe(0);
    expect(await windowSpendFen(db, id, new Date(t0.getTime() - 1), 365)).toBe(0);
  });

  it('a purchase that crosses a threshold upgrades at once, with progress and history', async () => {
    const id = await member(db);
    const at = new Date('2026-02-01T00:00:00Z');
    expect(await spendAt(db, program, id, 499_999, at)).toEqual({ tier: 'silver', upgraded: true });
    expect(await spendAt(db, program, id, 1, at)).toEqual({ tier: 'gold', upgraded: true });
    const status = await tierStatus(db, id, program, at);
    expect(status).toMatchObject({
      tier: 'gold', nameZh: '金卡', nameEn: 'Gold', windowSpendFen: 500_000, since: at.toISOString(),
      retainedUntil: new Date(at.getTime() + 365 * DAY).toISOString(), warning: null, rulesVersion: 1,
      progress: { nextTier: 'diamond', remainingFen: 1_500_000, message: '再消费¥15000.00升级钻石 / Spend ¥15000.00 more to reach Diamond' },
    });
    const { rows } = await db.query<{ to_tier: string; outcome: string; actor_id: string }>(
      'SELECT to_tier, outcome, actor_id FROM member_tier_changes WHERE member_id = $1 ORDER BY id', [id],
    );
    expect(rows).toEqual([
      { to_tier: 'silver', outcome: 'upgraded', actor_id: 'program-test' },
      { to_tier: 'gold', outcome: 'upgraded', actor_id: 'program-test' },
    ]);
  });

  it('refuses a negative or fractional payment and records nothing', async () => {
    const id = await member(db);
    const txId = await someTx(db, id);
    for (const bad of [-1, 0.5]) {
      await expect(
        db.transaction((tx) => recordQualifyingSpend(tx, { memberId: id, txId, amountFen: bad }, { program, at: new Date(), actor, reason: 'x' })),
      ).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
    }
    expect((await db.query('SELECT 1 FROM qualifying_spend WHERE member_id = $1', [id])).rows).toEqual([]);
  });

  it('refuses a qualifying spend hung on nothing a refund could cancel, and records nothing', async () => {
    const id = await member(db);
    await expect(
      db.transaction((tx) => recordQualifyingSpend(tx, { memberId: id, txId: null, amountFen: 100 }, { program, at: new Date(), actor, reason: 'x' })),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await db.query('SELECT 1 FROM qualifying_spend WHERE member_id = $1', [id])).rows).toEqual([]);
  });
});

describe('tier review job', () => {
  it('confirms, retains within the retention window, downgrades one step after it, and warns', async () => {
    const db = await databases.open('pglite');
    const store = new RulesStore(db);
    await store.current();
    const program = await store.publish(
      { ...DEFAULT_PROGRAM_RULES, tiers: { ...DEFAULT_PROGRAM_RULES.tiers, spendWindowDays: 30 } },
      actor,
      '30-day window for the test',
    );
    const R = new Date('2027-01-01T04:00:00Z');
    const ago = (days: number) => new Date(R.getTime() - days * DAY);
    const a = await member(db); // diamond 400 days ago, nothing since: retention over → one step down to gold
    await spendAt(db, program, a, 2_000_000, ago(400));
    const b = await member(db); // gold 10 days ago, still in the window → confirmed
    await spendAt(db, program, b, 500_000, ago(10));
    const c = await member(db); // silver 40 days ago, out of the window, retention runs until R + 325 d → retained, no warning yet
    await spendAt(db, program, c, 100_000, ago(40));
    const d = await member(db); // gold 350 days ago → retained, retention ends in 15 days → warned
    await spendAt(db, program, d, 500_000, ago(350));
    const e = await member(db); // never upgraded: not reviewed
    const versionBefore = (await readMember(db, a))!.version;

    const progress: object[] = [];
    const run = await runTierReview(db, { program, at: R, actor: { type: 'system', id: 'tier-review' }, reason: 'yearly review', batchSize: 2, logger: { info: (fields) => progress.push(fields) } });
    expect(run).toMatchObject({ reviewed: 4, confirmed: 1, retained: 2, downgraded: 1, rulesVersion: program.version });
    expect(progress.length).toBe(4); // started, two batches of 2, finished
    const tiers = await Promise.all([a, b, c, d, e].map(async (id) => (await readMember(db, id))!.tier));
    expect(tiers).toEqual(['gold', 'gold', 'silver', 'gold', 'standard']);
    expect((await readMember(db, a))!.version).toBeGreaterThan(versionBefore);

    const warnedD = await tierStatus(db, d, program, R);
    expect(warnedD.warning).toMatchObject({ tier: 'gold', remainingFen: 500_000 });
    expect(warnedD.warning!.message).toBe('再消费¥5000.00保级金卡（2027-01-16前）/ Spend ¥5000.00 more by 2027-01-16 to keep Gold');
    expect((await tierStatus(db, c, program, R)).warning).toBeNull();

    const { rows } = await db.query<{ finished_at: Date | null; reviewed: number; reason: string }>('SELECT finished_at, reviewed, reason FROM tier_review_runs WHERE id = $1', [run.runId]);
    expect(rows[0]).toMatchObject({ reviewed: 4, reason: 'yearly review' });
    expect(rows[0]!.finished_at).not.toBeNull();
    const changes = await db.query<{ outcome: string; review_run_id: string }>(
      'SELECT outcome, review_run_id FROM member_tier_changes WHERE review_run_id = $1 ORDER BY outcome', [run.runId],
    );
    expect(changes.rows.map((r) => r.outcome)).toEqual(['confirmed', 'downgraded']);

    // Re-running at the same instant is harmless: a downgrade restarts the retention, so nobody drops twice.
    const again = await runTierReview(db, { program, at: R, actor: { type: 'system', id: 'tier-review' }, reason: 'rerun' });
    expect(again).toMatchObject({ reviewed: 4, confirmed: 1, retained: 3, downgraded: 0 });
    expect(await Promise.all([a, b, c, d, e].map(async (id) => (await readMember(db, id))!.tier))).toEqual(tiers);
  });
});

describe.each(BACKENDS)('check-in and budgets (%s)', (backend) => {
  let db: Database;
  let org: SeededOrg;
  let program: PublishedRules;
  beforeAll(async () => {
    db = await databases.open(backend);
    org = await seedOrg(db);
    const store = new RulesStore(db);
    await store.current();
    program = await store.publish(
      {
        ...DEFAULT_PROGRAM_RULES,
        budgets: {
          timeZone: 'Asia/Shanghai',
          caps: [
            { scope: 'member', direction: 'earn', period: 'day', limitPoints: 100 },
            { scope: 'store', direction: 'earn', period: 'month', limitPoints: 8 },
          ],
          alertPercents: [50, 100],
        },
      },
      actor,
      'small store budget for the test',
    );
  });

  it('once per local day in the store’s zone; the streak grows on consecutive days', async () => {
    const id = await member(db, org.stores.xuhui.storeId);
    const noStore = { memberId: id, actor };
    const first = await checkIn(db, (await testLedger(db)), program, { ...noStore, at: new Date('2026-05-01T15:59:59Z') }); // 23:59:59 in Shanghai
    expect(first).toMatchObject({ localDate: '2026-05-01', streak: 1, points: 5, rulePoints: 5 });
    expect(first.txId).not.toBeNull();
    await expect(checkIn(db, (await testLedger(db)), program, { ...noStore, at: new Date('2026-04-30T16:00:00Z') })).rejects.toMatchObject({
      code: 'ALREADY_CHECKED_IN',
      message: '今天已签到（2026-05-01） / This member already checked in today (2026-05-01)',
    });
    expect(await points(db, id)).toBe(5);
    const second = await checkIn(db, (await testLedger(db)), program, { ...noStore, at: new Date('2026-05-01T16:00:00Z') }); // 00:00 next day
    expect(second).toMatchObject({ localDate: '2026-05-02', streak: 2, points: 5 });
    expect(await points(db, id)).toBe(10);
    const { rows } = await db.query<{ kind: string; reason: string; actor_id: string }>(
      'SELECT kind, reason, actor_id FROM ledger_transactions WHERE member_id = $1 AND kind = $2 ORDER BY created_at', [id, 'points_award'],
    );
    expect(rows).toEqual([
      { kind: 'points_award', reason: '每日签到 daily check-in 2026-05-01', actor_id: 'program-test' },
      { kind: 'points_award', reason: '每日签到 daily check-in 2026-05-02', actor_id: 'program-test' },
    ]);
    await expectLedgerConsistent(db);
  });

  it('concurrent check-ins the same day: exactly one is credited', async () => {
    const id = await member(db, org.stores.xuhui.storeId);
    const at = new Date('2026-05-03T02:00:00Z');
    const ledger = await testLedger(db);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => checkIn(db, ledger, program, { memberId: id, actor, at })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ALREADY_CHECKED_IN' });
    expect(await points(db, id)).toBe(5);
  });

  it('a store budget caps the award, raises 50 % and 100 % alerts once, then credits 0 without a posting', async () => {
    const storeId = org.stores.jingan.storeId;
    const at = new Date('2026-06-10T02:00:00Z');
    const [m1, m2, m3] = [await member(db, storeId), await member(db, storeId), await member(db, storeId)];
    const r1 = await checkIn(db, (await testLedger(db)), program, { memberId: m1, storeId, actor, at });
    expect([r1.points, r1.alerts.map((a) => a.thresholdPercent)]).toEqual([5, [50]]);
    const r2 = await checkIn(db, (await testLedger(db)), program, { memberId: m2, storeId, actor, at });
    expect([r2.points, r2.rulePoints, r2.alerts.map((a) => a.thresholdPercent)]).toEqual([3, 5, [100]]);
    const r3 = await checkIn(db, (await testLedger(db)), program, { memberId: m3, storeId, actor, at });
    expect([r3.points, r3.txId, r3.alerts]).toEqual([0, null, []]);
    expect(await points(db, m3)).toBe(0);
    await expect(checkIn(db, (await testLedger(db)), program, { memberId: m3, storeId, actor, at })).rejects.toMatchObject({ code: 'ALREADY_CHECKED_IN' });
    // Next month the store budget is fresh.
    expect((await checkIn(db, (await testLedger(db)), program, { memberId: m3, storeId, actor, at: new Date('2026-07-01T02:00:00Z') })).points).toBe(5);

    const alerts = await listBudgetAlerts(db, { level: 'store', id: storeId });
    expect(alerts.map((a) => [a.scope, a.subjectId, a.periodKey, a.thresholdPercent, a.used, a.limitPoints])).toEqual([
      ['store', storeId, '2026-07', 50, 5, 8],
      ['store', storeId, '2026-06', 100, 8, 8],
      ['store', storeId, '2026-06', 50, 5, 8],
    ]);
    expect(await listBudgetAlerts(db, { level: 'store', id: org.stores.xuhui.storeId })).toEqual([]);
    expect((await listBudgetAlerts(db, { level: 'region', id: 'east' })).length).toBe(3);
    expect((await listBudgetAlerts(db, { level: 'region', id: 'south' })).length).toBe(0);
    await expectLedgerConsistent(db);
  });

  it('consumeBudget is atomic: concurrent uses never overshoot a cap', async () => {
    const storeId = org.stores.tianhe.storeId;
    const rules = program.rules.budgets;
    const at = new Date('2026-08-01T02:00:00Z');
    const ids = await Promise.all(Array.from({ length: 6 }, () => member(db, storeId)));
    const attempts = await Promise.allSettled(
      ids.map((memberId) => db.transaction((tx) => consumeBudget(tx, rules, { memberId, storeId, direction: 'earn', points: 3, at }, null))),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(2); // 2 × 3 ≤ 8 < 3 × 3
    for (const a of attempts) if (a.status === 'rejected') expect(a.reason).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    expect(await budgetAllowance(db, rules, { memberId: ids[0]!, storeId, direction: 'earn', points: 5, at })).toMatchObject({
      allowedPoints: 2,
      limitedBy: { scope: 'store', subjectId: storeId, periodKey: '2026-08', used: 6 },
    });
    await expect(db.transaction((tx) => consumeBudget(tx, rules, { memberId: ids[0]!, storeId, direction: 'earn', points: -1, at }, null))).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
  });

  it('a refund gives back what its transaction took from each budget, in the period it counted in, exactly once', async () => {
    // Points-exchange coupons (a points_redemption, refundable through the ledger) bought at 23:30 on 31 Jan in Shanghai.
    const storeId = org.stores.xuhui.storeId;
    const rules: BudgetRules = {
      timeZone: 'Asia/Shanghai',
      caps: [
        { scope: 'member', direction: 'spend', period: 'day', limitPoints: 1_000 },
        { scope: 'store', direction: 'spend', period: 'month', limitPoints: 1_000 },
      ],
      alertPercents: [],
    };
    const at = new Date('2026-01-31T15:30:00Z');
    const id = await member(db, storeId);
    await (await testLedger(db)).adjustPoints({ idempotencyKey: key(), memberId: id, actor, points: 2_000, reason: 'points to exchange' });
    const ledger = await testLedger(db);
    // A redemption that counts its points against the spend budgets, in its own transaction (as the catalog's does).
    const buy = async (points: number) =>
      (
        await ledger.post({
          kind: 'points_redemption', owner: 'ledger', idempotencyKey: key('buy'), memberId: id, actor, reason: 'exchange', storeId,
          legs: pointsSpendLegs(points),
          effects: async (tx, { txId }) => {
            await consumeBudget(tx, rules, { memberId: id, storeId, direction: 'spend', points, at }, txId);
            return undefined;
          },
        })
      ).txId;
    const usage = async () =>
      (await db.query<{ scope: string; period_key: string; used: string | number }>(
        `SELECT scope, period_key, used FROM points_budget_usage WHERE direction = 'spend' AND subject_id IN ($1, $2) ORDER BY scope`, [id, storeId],
      )).rows.map((r) => [r.scope, r.period_key, Number(r.used)]);
    const first = await buy(300);
    const second = await buy(200);
    expect(await usage()).toEqual([['member', '2026-01-31', 500], ['store', '2026-01', 500]]);

    // Refunded months later: the January counters get the points back, no counter of the refund's period is touched.
    const refunded = await (await testLedger(db)).refund({ originalTxId: first, idempotencyKey: key('refund'), actor, reason: 'coupon returned' });
    expect(await usage()).toEqual([['member', '2026-01-31', 200], ['store', '2026-01', 200]]);
    const { rows: released } = await db.query<{ released_by_tx_id: string | null }>('SELECT released_by_tx_id FROM points_budget_consumptions WHERE tx_id = $1', [first]);
    expect(released).toEqual([{ released_by_tx_id: refunded.txId }, { released_by_tx_id: refunded.txId }]);
    await expect((await testLedger(db)).refund({ originalTxId: first, idempotencyKey: key('refund'), actor, reason: 'again' })).rejects.toMatchObject({ code: 'ALREADY_REFUNDED' });
    expect(await usage()).toEqual([['member', '2026-01-31', 200], ['store', '2026-01', 200]]);

    // Concurrent refunds of the second purchase: one wins, the budget is given back once.
    const racing = await Promise.allSettled(
      Array.from({ length: 3 }, async () => (await testLedger(db)).refund({ originalTxId: second, idempotencyKey: key('refund'), actor, reason: 'race' })),
    );
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of racing) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ALREADY_REFUNDED' });
    expect(await usage()).toEqual([['member', '2026-01-31', 0], ['store', '2026-01', 0]]);
    expect(await budgetAllowance(db, rules, { memberId: id, storeId, direction: 'spend', points: 1_000, at })).toMatchObject({ allowedPoints: 1_000 });
    await expectLedgerConsistent(db);
  });

  it('a use without a ledger transaction records nothing a refund could release; awards (check-in, referral) are not refundable', async () => {
    const storeId = org.stores.xuhui.storeId;
    const id = await member(db, storeId);
    await db.transaction((tx) => consumeBudget(tx, program.rules.budgets, { memberId: id, storeId, direction: 'earn', points: 2, at: new Date('2026-09-01T02:00:00Z') }, null));
    expect((await db.query('SELECT 1 FROM points_budget_consumptions WHERE subject_id = $1', [id])).rows).toEqual([]);

    // A check-in's budget use is recorded, but its 'points_award' cannot be refunded, so it is never released.
    const checkedIn = await checkIn(db, (await testLedger(db)), program, { memberId: id, actor, at: new Date('2026-09-02T02:00:00Z') });
    expect((await db.query<{ points: string | number }>('SELECT points FROM points_budget_consumptions WHERE tx_id = $1', [checkedIn.txId])).rows.map((r) => Number(r.points))).toEqual([5]);
    await expect((await testLedger(db)).refund({ originalTxId: checkedIn.txId!, idempotencyKey: key('refund'), actor, reason: 'undo' })).rejects.toMatchObject({ code: 'NOT_REFUNDABLE' });
  });
});

describe('referrals', () => {
  let db: Database;
  let program: PublishedRules;
  beforeAll(async () => {
    db = await databases.open('pglite');
    program = await new RulesStore(db).current(); // first purchase: referrer 100, referee 50
  });

  it('pays referrer and referee once, on the first purchase', async () => {
    const [referrer, referee] = [await member(db), await member(db)];
    const referral = await registerReferral(db, (await testLedger(db)), program, { refereeId: referee, referrerId: referrer, actor, reason: 'friend of the family' });
    expect(referral).toMatchObject({ refereeId: referee, referrerId: referrer, rewardedAt: null });
    const ledger = await testLedger(db);
    const purchase = (amountFen: number) => db.transaction((tx) => rewardOnPurchase(tx, ledger, program, { memberId: referee, amountFen, actor }));
    await purchase(0);
    expect((await getReferral(db, referee))!.rewardedAt).toBeNull();
    // Two purchases' follow-ups consumed at once: the referral row's lock lets one pay, the other finds it paid.
    await Promise.all([purchase(8_800), purchase(9_900)]);
    expect((await getReferral(db, referee))!.rewardedAt).toEqual(expect.any(String));
    await purchase(8_800);
    expect([await points(db, referrer), await points(db, referee)]).toEqual([100, 50]);
    const stored = (await getReferral(db, referee))!;
    expect(stored.referrerTxId).not.toBeNull();
    expect(stored.refereeTxId).not.toBeNull();
    await expectLedgerConsistent(db);
  });

  it('pays at registration when the program says so', async () => {
    const rules = { ...program.rules, referral: { enabled: true, trigger: 'registration' as const, referrerPoints: 30, refereePoints: 0 } };
    const [referrer, referee] = [await member(db), await member(db)];
    const referral = await registerReferral(db, (await testLedger(db)), { ...program, rules }, { refereeId: referee, referrerId: referrer, actor, reason: 'signed up at the counter' });
    expect(referral.rewardedAt).not.toBeNull();
    expect(referral.refereeTxId).toBeNull();
    expect([await points(db, referrer), await points(db, referee)]).toEqual([30, 0]);
  });

  it('refuses self-referral, a second referrer and unknown members', async () => {
    const [a, b, c] = [await member(db), await member(db), await member(db)];
    await expect(registerReferral(db, (await testLedger(db)), program, { refereeId: a, referrerId: a, actor, reason: 'me' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('不能推荐自己') });
    await registerReferral(db, (await testLedger(db)), program, { refereeId: a, referrerId: b, actor, reason: 'first' });
    await expect(registerReferral(db, (await testLedger(db)), program, { refereeId: a, referrerId: c, actor, reason: 'second' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(registerReferral(db, (await testLedger(db)), program, { refereeId: c, referrerId: '0190a0a0-0000-7000-8000-000000000000', actor, reason: 'ghost' })).rejects.toMatchObject({ code: 'MEMBER_NOT_FOUND' });
    expect((await getReferral(db, a))!.referrerId).toBe(b);
    expect(await getReferral(db, c)).toBeUndefined();
  });
});

describe('program REST', () => {
  const rest = useRestApi(() => databases.open('pglite'));
  const { send } = rest;

  it('GET /program/rules for any operator; PUT for HQ admins only, invalid rules refused with every problem', async () => {
    const current = await send('GET', '/program/rules', rest.org.tokens.xuhui.cashier);
    expect(current.statusCode).toBe(200);
    expect(current.json()).toMatchObject({ version: 1, rules: DEFAULT_PROGRAM_RULES });
    const body = { rules: { ...DEFAULT_PROGRAM_RULES, spendingOrder: 'proportional' }, reason: 'proportional spending' };
    expect((await send('PUT', '/program/rules', rest.org.tokens.east.admin, body)).statusCode).toBe(403);
    expect((await send('PUT', '/program/rules', rest.org.tokens.hq.manager, body)).statusCode).toBe(403);
    const invalid = await send('PUT', '/program/rules', rest.org.tokens.hq.admin, { rules: { ...DEFAULT_PROGRAM_RULES, spendingOrder: 'x', referral: {} }, reason: 'bad' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('RULES_INVALID');
    expect(invalid.json().error.message).toMatch(/spendingOrder: .*referral: enabled must be true or false/);
    const published = await send('PUT', '/program/rules', rest.org.tokens.hq.admin, body);
    expect(published.statusCode).toBe(201);
    expect(published.json()).toMatchObject({ version: 2, reason: 'proportional spending', actor: { type: 'operator', id: rest.org.operatorIds.hq.admin } });
    expect((await send('GET', '/program/rules/1', rest.org.tokens.xuhui.cashier)).json().rules.spendingOrder).toBe('principal_first');
    expect((await send('GET', '/program/rules/7', rest.org.tokens.xuhui.cashier)).statusCode).toBe(404);
  });

  it('tier, check-in and alerts, within the operator’s scope', async () => {
    const created = await send('POST', '/members', rest.org.tokens.xuhui.cashier, { name: 'REST member' });
    const memberId = created.json().memberId as string;
    const tier = await send('GET', `/members/${memberId}/tier`, rest.org.tokens.xuhui.cashier);
    expect(tier.statusCode).toBe(200);
    expect(tier.json()).toMatchObject({ tier: 'standard', windowSpendFen: 0, progress: { nextTier: 'silver', message: '再消费¥1000.00升级银卡 / Spend ¥1000.00 more to reach Silver' } });
    expect((await send('GET', `/members/${memberId}/tier`, rest.org.tokens.tianhe.cashier)).statusCode).toBe(403);

    const first = await send('POST', `/members/${memberId}/check-ins`, rest.org.tokens.xuhui.cashier, {});
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ streak: 1, points: 5, member: { balances: { points: 5 } } });
    const second = await send('POST', `/members/${memberId}/check-ins`, rest.org.tokens.xuhui.cashier, {});
    expect([second.statusCode, second.json().error.code]).toEqual([409, 'ALREADY_CHECKED_IN']);
    expect((await send('POST', `/members/${memberId}/check-ins`, rest.org.tokens.xuhui.technician, {})).statusCode).toBe(403);
    expect((await send('POST', `/members/${memberId}/check-ins`, rest.org.tokens.xuhui.cashier, { storeId: rest.org.stores.tianhe.storeId })).statusCode).toBe(403);

    const alerts = await send('GET', '/budgets/alerts', rest.org.tokens.hq.manager);
    expect([alerts.statusCode, Array.isArray(alerts.json().alerts)]).toEqual([200, true]);
    expect((await send('GET', '/budgets/alerts', rest.org.tokens.hq.cashier)).statusCode).toBe(403);

    const other = (await send('POST', '/members', rest.org.tokens.xuhui.cashier, { name: 'Referrer' })).json().memberId as string;
    const referral = await send('POST', `/members/${memberId}/referral`, rest.org.tokens.xuhui.cashier, { referrerId: other, reason: 'friend' });
    expect([referral.statusCode, referral.json().referrerId]).toEqual([201, other]);
    expect((await send('POST', `/members/${memberId}/referral`, rest.org.tokens.xuhui.cashier, { referrerId: other, reason: 'again' })).statusCode).toBe(409);
    const self = await send('POST', `/members/${other}/referral`, rest.org.tokens.xuhui.cashier, { referrerId: other, reason: 'myself' });
    expect([self.statusCode, self.json().error]).toEqual([400, { code: 'INVALID_INPUT', message: '不能推荐自己 / A member cannot refer themselves' }]);
    const nobody = '01900000-0000-7000-8000-000000000000';
    const unknownReferrer = await send('POST', `/members/${other}/referral`, rest.org.tokens.xuhui.cashier, { referrerId: nobody, reason: 'stranger' });
    expect([unknownReferrer.statusCode, unknownReferrer.json().error.code]).toEqual([404, 'MEMBER_NOT_FOUND']);

    const review = await send('POST', '/program/tier-reviews', rest.org.tokens.hq.admin, { reason: 'manual review' });
    expect([review.statusCode, review.json().reviewed]).toEqual([200, 0]);
    expect((await send('POST', '/program/tier-reviews', rest.org.tokens.xuhui.admin, { reason: 'x' })).statusCode).toBe(403);
  });

  it('check-in switched off in the rules is 409 CONFLICT, in both languages', async () => {
    const admin = rest.org.tokens.hq.admin;
    const published = (await send('GET', '/program/rules', admin)).json().rules;
    const off = { ...published, checkIn: { ...published.checkIn, enabled: false } };
    expect((await send('PUT', '/program/rules', admin, { rules: off, reason: 'no check-in this month' })).statusCode).toBe(201);
    try {
      const memberId = (await send('POST', '/members', rest.org.tokens.xuhui.cashier, { name: 'Off member' })).json().memberId as string;
      const refused = await send('POST', `/members/${memberId}/check-ins`, rest.org.tokens.xuhui.cashier, {});
      expect([refused.statusCode, refused.json().error]).toEqual([409, { code: 'CONFLICT', message: '签到活动未开启 / Daily check-in is not available' }]);
    } finally {
      expect((await send('PUT', '/program/rules', admin, { rules: published, reason: 'check-in back' })).statusCode).toBe(201);
    }
  });

  it('documents every program route in OpenAPI', async () => {
    const doc = (await rest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const path of ['/api/v1/program/rules', '/api/v1/program/rules/{version}', '/api/v1/members/{memberId}/tier', '/api/v1/members/{memberId}/check-ins',
      '/api/v1/members/{memberId}/referral', '/api/v1/budgets/alerts', '/api/v1/program/tier-reviews']) {
      expect(doc.paths[path], path).toBeDefined();
    }
  });
});
