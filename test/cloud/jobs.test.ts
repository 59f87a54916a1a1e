import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ANNUAL_FEE_JOB_ACTOR, chargeAnnualFees } from '../../cloud/cards/annual-fee-job.ts';
import { CardService } from '../../cloud/cards/card-service.ts';
import { createItem } from '../../cloud/catalog/items.ts';
import { redeem } from '../../cloud/catalog/redeem.ts';
import { generateVoucherSigningKey } from '../../cloud/catalog/signing-key.ts';
import { memberVouchers } from '../../cloud/catalog/vouchers.ts';
import { issueCoupon, listMemberCoupons } from '../../cloud/coupons/coupons.ts';
import { createTemplate } from '../../cloud/coupons/templates.ts';
import type { Database, Queryable } from '../../cloud/db/database.ts';
import { HubError } from '../../cloud/kernel/errors.ts';
import { hubJobLock } from '../../cloud/kernel/job-lock.ts';
import { startScheduler, type SchedulerOptions } from '../../cloud/kernel/scheduler.ts';
import { TIER_REVIEW_JOB_ACTOR } from '../../cloud/program/index.ts';
import { jobsIntervalMsFromEnv } from '../../cloud/kernel/interval.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { createStore } from '../../cloud/org/structure.ts';
import { RulesStore, type PublishedRules } from '../../cloud/program/rules-store.ts';
import { maskCardUid } from '../../shared/card.ts';
import { EnvReader } from '../../shared/config-env.ts';
import { DEFAULT_CARD_FEE_SCHEDULE } from '../../shared/rules/cards.ts';
import { DEFAULT_PROGRAM_RULES, type ProgramRules } from '../../shared/rules/program.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { seedOrg } from '../helpers/org.ts';
import { expectLedgerConsistent, key, newCardUid, useDatabases, testLedger } from './support.ts';
import { bindCard } from '../../cloud/cards/index.ts';

const databases = useDatabases();
const SETUP: Actor = { type: 'system', id: 'jobs-test' };
const STORE = 'sh-xuhui';
/** Every run in these tests works as of this instant: past every expiry set up below except `stillValid`. */
const AS_OF = new Date('2100-01-01T00:00:00Z');
const now = () => AS_OF;
const HOUR = 3_600_000;
/** The hub's jobs, in the order its modules list them. */
const HUB_JOB_NAMES = ['points-expiry', 'coupon-expiry', 'voucher-expiry', 'tier-review', 'annual-fees'] as const;

interface StartOptions extends Partial<Omit<SchedulerOptions, 'jobs'>> {
  rules?: Pick<RulesStore, 'current'>;
  /** The database the jobs work on (a faulty one, say); default the test's. */
  db?: Database;
}

/** The hub's scheduler with every module's jobs on `db` (as startHub runs it), reading `rules`. */
async function startHubJobs(db: Database, rules: Pick<RulesStore, 'current'>, options: Partial<Omit<SchedulerOptions, 'jobs'>> = {}) {
  const hub = await assembleTestHub(db, { rules: rules as RulesStore });
  expect(hub.jobs.map((job) => job.name)).toEqual([...HUB_JOB_NAMES]);
  return startScheduler({ jobs: hub.jobs, lock: hubJobLock(db), logger: pino({ level: 'silent' }), intervalMs: HOUR, now, ...options });
}

/** pino into memory, with a way to wait for a log line instead of for time to pass. */
function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  let wake: () => void = () => {};
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      wake();
      done();
    },
  });
  const finished = (job: string) => lines.filter((l) => l.job === job && (l.msg === 'scheduled job done' || l.msg === 'scheduled job failed; it runs again at the next tick'));
  return {
    logger: pino({ level: 'info' }, stream),
    lines,
    finished,
    /** Resolves once `count` runs of the last job of a round have been logged as finished. */
    async ticksLogged(count: number): Promise<void> {
      while (finished(HUB_JOB_NAMES.at(-1)!).length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** A gate a test opens; `inside` resolves when someone first waits at it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  return {
    inside,
    open: () => open(),
    pass: async () => {
      entered();
      await opened;
    },
  };
}

/** A rules store whose current() waits at a gate, so a tier-review run can be held mid-way (holding its lock). */
function gatedRules(store: RulesStore) {
  const { inside, open, pass } = gate();
  let calls = 0;
  return {
    rules: {
      async current() {
        calls++;
        await pass();
        return store.current();
      },
    },
    inside,
    open,
    calls: () => calls,
  };
}

/**
 * The database with a statement counter and switches: while `fail` matches a statement it fails; a statement
 * matching `hold` waits at the returned gate.
 */
function faultyDatabase(db: Database) {
  let failing: RegExp | undefined;
  let held: { pattern: RegExp; pass: () => Promise<void> } | undefined;
  let statements = 0;
  const guard = (target: Queryable): Queryable => ({
    async query(sql, params) {
      statements++;
      if (held?.pattern.test(sql)) await held.pass();
      if (failing?.test(sql)) throw new Error('connection reset by peer');
      return target.query(sql, params);
    },
    exec: (sql) => target.exec(sql),
  });
  const faulty: Database = { ...db, ...guard(db), transaction: (fn) => db.transaction((tx) => fn(guard(tx))), close: () => db.close() };
  return {
    db: faulty,
    fail: (pattern: RegExp | undefined) => (failing = pattern),
    hold(pattern: RegExp) {
      const g = gate();
      held = { pattern, pass: g.pass };
      return g;
    },
    statements: () => statements,
  };
}

describe('scheduled hub jobs on pglite', () => {
  let db: Database;
  let ledger: Ledger;
  let store: RulesStore;
  const voucherKey = generateVoucherSigningKey();
  const stopAfterTest: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    db = await databases.open('pglite');
    ledger = await testLedger(db);
    store = new RulesStore(db);
    await seedOrg(db);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(stopAfterTest.splice(0).map((jobs) => jobs.stop()));
  });

  async function start({ rules = store, db: on = db, ...options }: StartOptions = {}) {
    const jobs = await startHubJobs(on, rules, options);
    stopAfterTest.push(jobs);
    return jobs;
  }

  /** A member holding a points lot that ends at the end of this year (Asia/Shanghai). */
  async function memberWithExpiringPoints(points: number): Promise<string> {
    const { memberId } = await ledger.createMember({ name: '积分 Points', actor: SETUP });
    await ledger.adjustPoints({
      idempotencyKey: key('pts'),
      memberId,
      points,
      reason: 'welcome points',
      actor: SETUP,
      pointsExpiry: { kind: 'end_of_year', timeZone: 'Asia/Shanghai' },
    });
    return memberId;
  }

  /** An issued coupon valid until `validUntil`. */
  async function couponValidUntil(validUntil: string): Promise<{ memberId: string; couponId: string }> {
    const { memberId } = await ledger.createMember({ name: '券 Coupon', actor: SETUP });
    const template = await createTemplate(
      db,
      { nameZh: '满100减20', nameEn: '¥20 off ¥100', offer: { kind: 'amount_off', amountOffFen: 2_000 }, conditions: { minSpendFen: 10_000, validUntil } },
      SETUP,
      'spring campaign',
    );
    const { coupon } = await issueCoupon(db, ledger, { templateId: template.templateId, memberId, issueKey: key('coupon'), actor: SETUP, reason: 'welcome gift' });
    return { memberId, couponId: coupon.couponId };
  }

  /** An issued voucher valid for one day from now. */
  async function issuedVoucher(): Promise<{ memberId: string; itemId: string }> {
    const item = await createItem(db, store, {
      kind: 'goods',
      nameZh: '拿铁',
      nameEn: 'Latte',
      price: { kind: 'points', points: 100 },
      voucherValidDays: 1,
      stock: 5,
      actor: SETUP,
      reason: 'spring catalog',
    });
    const { memberId } = await ledger.createMember({ name: '兑 Voucher', actor: SETUP });
    await ledger.adjustPoints({ idempotencyKey: key('pts'), memberId, points: 100, reason: 'test points', actor: SETUP });
    await redeem({ db, ledger, voucherKey, rules: (await store.current()).rules }, { idempotencyKey: key('redeem'), memberId, itemId: item.id, storeId: STORE, actor: SETUP });
    return { memberId, itemId: item.id };
  }

  const couponStatus = async (memberId: string) => (await listMemberCoupons(db, memberId))[0]!.status;
  const voucherStatus = async (memberId: string) => (await memberVouchers(db, memberId))[0]!.status;
  const tierRuns = async () =>
    (await db.query<{ id: string; actor_id: string; reason: string; finished_at: Date | null }>('SELECT id, actor_id, reason, finished_at FROM tier_review_runs ORDER BY started_at')).rows;

  it('runNow runs every job in order and their effects are visible; a second round finds nothing left to do', async () => {
    const pointsMember = await memberWithExpiringPoints(300);
    const expired = await couponValidUntil('2099-07-01T00:00:00+08:00');
    const stillValid = await couponValidUntil('2101-01-01T00:00:00+08:00');
    const voucher = await issuedVoucher();
    const runsBefore = (await tierRuns()).length;
    const sink = logSink();
    const jobs = await start({ logger: sink.logger });

    const report = await jobs.runNow();
    expect(report.runs.map((r) => [r.job, r.status, r.asOf])).toEqual(HUB_JOB_NAMES.map((job) => [job, 'done', AS_OF.toISOString()]));
    expect(report.runs.find((r) => r.job === 'points-expiry')).toMatchObject({ result: { expiredLots: 1, expiredPoints: 300 } });
    expect(report.runs.find((r) => r.job === 'coupon-expiry')).toMatchObject({ result: { expired: 1 } });
    expect(report.runs.find((r) => r.job === 'voucher-expiry')).toMatchObject({ result: { expired: 1 } });
    expect(report.runs.find((r) => r.job === 'tier-review')).toMatchObject({ result: { asOf: AS_OF.toISOString(), rulesVersion: 1 } });
    expect(report.runs.find((r) => r.job === 'annual-fees')).toMatchObject({ result: { asOf: AS_OF.toISOString(), rulesVersion: 1, charged: 0 } });

    expect((await ledger.getMember(pointsMember)).balances.points).toBe(0);
    expect((await ledger.pointsLots(pointsMember)).lots).toEqual([]);
    expect(await couponStatus(expired.memberId)).toBe('expired');
    expect(await couponStatus(stillValid.memberId)).toBe('issued');
    expect(await voucherStatus(voucher.memberId)).toBe('expired');
    const runs = await tierRuns();
    expect(runs).toHaveLength(runsBefore + 1);
    expect(runs.at(-1)).toMatchObject({ actor_id: TIER_REVIEW_JOB_ACTOR.id, reason: '定期等级评审 / Scheduled tier review' });
    expect(runs.at(-1)!.finished_at).not.toBeNull();
    await expectLedgerConsistent(db);

    // One log line per run: the job, its asOf, how long it took and its counts; nothing else about members.
    const done = sink.lines.filter((l) => l.msg === 'scheduled job done');
    expect(done.map((l) => l.job)).toEqual([...HUB_JOB_NAMES]);
    for (const line of done) expect(line).toMatchObject({ level: 30, status: 'done', asOf: AS_OF.toISOString(), durationMs: expect.any(Number) });
    expect(done[0]).toMatchObject({ expiredLots: 1, expiredPoints: 300 });
    expect(done[1]).toMatchObject({ expired: 1 });

    const again = await jobs.runNow();
    expect(again.runs.map((r) => r.status)).toEqual(HUB_JOB_NAMES.map(() => 'done'));
    expect(again.runs.slice(0, 3).map((r) => r.status === 'done' && r.result)).toEqual([
      { asOf: AS_OF.toISOString(), expiredLots: 0, expiredPoints: 0, skippedLots: 0 },
      { expired: 0 },
      { expired: 0 },
    ]);
  });

  it('runNow(name) runs that job alone; an unknown name is refused', async () => {
    const { memberId } = await couponValidUntil('2099-08-01T00:00:00+08:00');
    const jobs = await start();
    const report = await jobs.runNow('coupon-expiry');
    expect(report.runs.map((r) => r.job)).toEqual(['coupon-expiry']);
    expect(await couponStatus(memberId)).toBe('expired');
    const refusal = await jobs.runNow('coupon-purge' as never).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(HubError);
    expect(refusal).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('points-expiry, coupon-expiry, voucher-expiry, tier-review, annual-fees') });
  });

  it('a failed run is logged, the jobs after it still run, and the next tick runs it again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const faulty = faultyDatabase(db);
    const coupon = await couponValidUntil('2099-09-01T00:00:00+08:00');
    const voucher = await issuedVoucher();
    const sink = logSink();
    await start({ db: faulty.db, logger: sink.logger });
    faulty.fail(/UPDATE coupons/);

    // Nothing runs before the first interval has passed (a run's first statement is issued as it starts).
    await vi.advanceTimersByTimeAsync(HOUR - 1);
    expect(faulty.statements()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await sink.ticksLogged(1);
    expect(sink.finished('coupon-expiry')).toEqual([
      expect.objectContaining({ level: 50, status: 'failed', error: 'connection reset by peer', stack: expect.any(String) }),
    ]);
    expect(HUB_JOB_NAMES.filter((job) => job !== 'coupon-expiry').map((job) => sink.finished(job)[0]!.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(await couponStatus(coupon.memberId)).toBe('issued');
    expect(await voucherStatus(voucher.memberId)).toBe('expired');

    // The next tick is armed once the previous one has finished, one interval later.
    faulty.fail(undefined);
    await vi.advanceTimersByTimeAsync(HOUR);
    await sink.ticksLogged(2);
    expect(sink.finished('coupon-expiry')[1]).toMatchObject({ status: 'done', expired: 1 });
    expect(await couponStatus(coupon.memberId)).toBe('expired');
  });

  it('stop waits for the run under way, starts nothing after it, and refuses further runs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const memberId = await memberWithExpiringPoints(70);
    const { memberId: couponHolder } = await couponValidUntil('2099-10-01T00:00:00+08:00');
    const faulty = faultyDatabase(db);
    const held = faulty.hold(/points_lots/);
    const sink = logSink();
    const jobs = await start({ db: faulty.db, logger: sink.logger });
    await vi.advanceTimersByTimeAsync(HOUR);
    await held.inside; // the tick is in its first job, the points expiry

    let stopped = false;
    const stopping = jobs.stop().then(() => (stopped = true));
    // Let every pending callback run: a stop that did not wait for the job would have resolved by now.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);

    held.open();
    await stopping;
    // The run under way finished before stop resolved (the database may close now); the jobs after it never started.
    expect(sink.lines.filter((l) => l.msg === 'scheduled job done')).toMatchObject([{ job: 'points-expiry', expiredPoints: 70 }]);
    expect((await ledger.getMember(memberId)).balances.points).toBe(0);
    expect(await couponStatus(couponHolder)).toBe('issued');

    await expect(jobs.runNow()).rejects.toThrow('The job scheduler has been stopped.');
    await vi.advanceTimersByTimeAsync(10 * HOUR);
    expect(sink.lines.filter((l) => l.msg === 'scheduled job done')).toHaveLength(1);
  });

  it('overlapping runNow calls join the run under way instead of running the job twice at once', async () => {
    const gated = gatedRules(store);
    const jobs = await start({ rules: gated.rules });
    const runsBefore = (await tierRuns()).length;
    const first = jobs.runNow('tier-review');
    await gated.inside;
    const second = jobs.runNow('tier-review');
    gated.open();
    const [a, b] = await Promise.all([first, second]);
    expect(b.runs[0]).toBe(a.runs[0]);
    expect(a.runs[0]).toMatchObject({ status: 'done' });
    expect(gated.calls()).toBe(1);
    expect((await tierRuns()).length).toBe(runsBefore + 1);

    // Two full rounds started together: every job runs once, both get the same reports.
    const pointsMember = await memberWithExpiringPoints(50);
    const [x, y] = await Promise.all([jobs.runNow(), jobs.runNow()]);
    x.runs.forEach((run, i) => expect(y.runs[i]).toBe(run));
    expect(x.runs[0]).toMatchObject({ status: 'done', result: { expiredLots: 1, expiredPoints: 50 } });
    const expiries = await db.query('SELECT id FROM ledger_transactions WHERE member_id = $1 AND kind = $2', [pointsMember, 'points_expiry']);
    expect(expiries.rows).toHaveLength(1);
    await expectLedgerConsistent(db);
  });

  it.each([0, 999, 1.5, 2_147_483_648, Number.NaN])('refuses an interval of %s ms', (intervalMs) => {
    expect(() => startScheduler({ jobs: [], logger: pino({ level: 'silent' }), intervalMs })).toThrow(HubError);
  });
});

/** A member at home in `homeStoreId` holding one card of `type` and `topUpFen` of stored value. */
async function cardHolder(db: Database, type: 'personal' | 'group' | 'vip', topUpFen: number, homeStoreId = STORE) {
  const ledger = await testLedger(db);
  const { memberId } = await ledger.createMember({ name: '年费 Annual', actor: SETUP, homeStoreId });
  const cardUid = newCardUid();
  await bindCard(db, ledger, { memberId, cardUid, actor: SETUP, type });
  if (topUpFen > 0) await ledger.topUpCash({ idempotencyKey: key('top'), memberId, amountFen: topUpFen, actor: SETUP });
  return { memberId, cardUid };
}

async function annualFees(db: Database, cardUid: string) {
  const { rows } = await db.query<{ period: string; amount_fen: number; waived_by: string | null; tx_id: string | null; actor_id: string; reason: string }>(
    `SELECT period, amount_fen::int AS amount_fen, waived_by, tx_id, actor_id, reason FROM card_fees WHERE card_uid = $1 AND kind = 'annual' ORDER BY period`,
    [cardUid],
  );
  return rows;
}

const principalOf = async (db: Database, memberId: string) => (await (await testLedger(db)).getMember(memberId)).balances.principalFen;

/** A published rule set as a rules store would return it (tests pin the version and the schedule). */
const publishedAs = (version: number, rules: ProgramRules): PublishedRules => ({
  version,
  rules,
  publishedAt: '2099-06-01T00:00:00.000Z',
  actor: SETUP,
  reason: 'test rules',
});

describe('annual card fees (scheduled job, pglite)', () => {
  let db: Database;
  let store: RulesStore;
  let cards: CardService;
  let ledger: Ledger;
  const LA = 'us-la';
  const stopAfterTest: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    db = await databases.open('pglite');
    store = new RulesStore(db);
    ledger = await testLedger(db);
    cards = new CardService(db, ledger);
    await seedOrg(db);
    await createStore(db, { storeId: LA, regionId: 'east', name: '洛杉矶店 Los Angeles', kind: 'direct', timeZone: 'America/Los_Angeles' }, SETUP, 'test chain');
  });
  afterEach(async () => {
    await Promise.all(stopAfterTest.splice(0).map((jobs) => jobs.stop()));
  });

  async function start({ rules = store, db: on = db, ...options }: StartOptions = {}) {
    const jobs = await startHubJobs(on, rules, options);
    stopAfterTest.push(jobs);
    return jobs;
  }

  const block = (cardUid: string, action: 'freeze' | 'report_loss') =>
    cards.changeStatus(action, { cardUid, idempotencyKey: key('block'), reason: 'test', actor: { type: 'operator', id: 'mgr' }, by: 'manager' });

  it('charges each active card whose type has an annual fee once per local year of its home store, from stored value; VIP waived; nothing else touched', async () => {
    const group = await cardHolder(db, 'group', 25_000);
    const groupLa = await cardHolder(db, 'group', 10_000, LA);
    const vip = await cardHolder(db, 'vip', 0);
    const personal = await cardHolder(db, 'personal', 5_000);
    const frozen = await cardHolder(db, 'group', 20_000);
    const lost = await cardHolder(db, 'group', 20_000);
    await block(frozen.cardUid, 'freeze');
    await block(lost.cardUid, 'report_loss');
    const jobs = await start();

    const report = await jobs.runNow('annual-fees');
    expect(report.runs).toMatchObject([
      {
        job: 'annual-fees',
        status: 'done',
        result: { asOf: AS_OF.toISOString(), rulesVersion: 1, charged: 2, chargedFen: 20_000, waived: 1, unpaid: 0, unpaidFen: 0, skipped: 0, failed: 0 },
      },
    ]);
    // 2100-01-01T00:00Z is already 2100 in Shanghai, still 2099 in Los Angeles.
    const reason = (year: number) => `${year}年年费 / Annual card fee ${year}`;
    expect(await annualFees(db, group.cardUid)).toEqual([
      { period: '2100', amount_fen: 10_000, waived_by: null, tx_id: expect.any(String), actor_id: ANNUAL_FEE_JOB_ACTOR.id, reason: reason(2100) },
    ]);
    expect(await annualFees(db, groupLa.cardUid)).toMatchObject([{ period: '2099', amount_fen: 10_000, reason: reason(2099) }]);
    expect(await annualFees(db, vip.cardUid)).toMatchObject([{ period: '2100', amount_fen: 0, waived_by: 'vip_card', tx_id: null }]);
    for (const untouched of [personal, frozen, lost]) expect(await annualFees(db, untouched.cardUid)).toEqual([]);
    expect(await principalOf(db, group.memberId)).toBe(15_000);
    expect(await principalOf(db, groupLa.memberId)).toBe(0);
    expect(await principalOf(db, frozen.memberId)).toBe(20_000);
    // Each fee is booked to the member's home store, as a 'card_fee' by the job.
    const fee = await db.query<{ kind: string; store_id: string; actor_id: string }>(
      'SELECT kind, store_id, actor_id FROM ledger_transactions WHERE id = $1',
      [(await annualFees(db, groupLa.cardUid))[0]!.tx_id],
    );
    expect(fee.rows).toEqual([{ kind: 'card_fee', store_id: LA, actor_id: ANNUAL_FEE_JOB_ACTOR.id }]);

    // Once a year: the next run finds nothing due.
    expect((await jobs.runNow('annual-fees')).runs[0]).toMatchObject({ result: { charged: 0, chargedFen: 0, waived: 0, unpaid: 0, skipped: 0 } });
    expect(await principalOf(db, group.memberId)).toBe(15_000);

    // A card unfrozen later in the year owes that year's fee at the next run.
    await cards.changeStatus('unfreeze', { cardUid: frozen.cardUid, idempotencyKey: key('unfreeze'), reason: 'dispute settled', actor: { type: 'operator', id: 'mgr' }, by: 'manager' });
    expect((await jobs.runNow('annual-fees')).runs[0]).toMatchObject({ result: { charged: 1, chargedFen: 10_000 } });
    expect(await principalOf(db, frozen.memberId)).toBe(10_000);

    // A new local year: due again.
    const nextYear = new Date('2101-01-01T12:00:00Z');
    const later = await start({ now: () => nextYear });
    expect((await later.runNow('annual-fees')).runs[0]).toMatchObject({ result: { charged: 2, chargedFen: 20_000, waived: 1, unpaid: 1, unpaidFen: 10_000 } });
    expect((await annualFees(db, group.cardUid)).map((f) => f.period)).toEqual(['2100', '2101']);
    expect(await principalOf(db, group.memberId)).toBe(5_000);
    expect((await annualFees(db, groupLa.cardUid)).map((f) => f.period)).toEqual(['2099']);
    await expectLedgerConsistent(db);
  });

  it('a member who cannot pay is counted and logged, charged nothing (never in part, never below zero), and charged by a later run once they can', async () => {
    const poor = await cardHolder(db, 'group', 9_999);
    const sink = logSink();
    const jobs = await start({ logger: sink.logger });
    const ledgerRows = async () => (await db.query('SELECT id FROM ledger_transactions WHERE member_id = $1', [poor.memberId])).rows.length;
    const txBefore = await ledgerRows();

    for (const attempt of [1, 2]) {
      expect((await jobs.runNow('annual-fees')).runs[0], `run ${attempt}`).toMatchObject({ result: { charged: 0, unpaid: 1, unpaidFen: 10_000 } });
      expect(await principalOf(db, poor.memberId)).toBe(9_999);
      expect(await annualFees(db, poor.cardUid)).toEqual([]);
      expect(await ledgerRows()).toBe(txBefore);
    }
    const unpaid = sink.lines.filter((l) => l.msg === 'annual fee unpaid: stored value too low; tried again next run');
    expect(unpaid).toHaveLength(2);
    expect(unpaid[0]).toMatchObject({ level: 40, job: 'annual-fees', card: maskCardUid(poor.cardUid), memberId: poor.memberId, year: '2100', feeFen: 10_000 });
    expect(JSON.stringify(sink.lines)).not.toContain(poor.cardUid);
    expect(sink.lines.filter((l) => l.msg === 'scheduled job done').at(-1)).toMatchObject({ job: 'annual-fees', unpaid: 1, unpaidFen: 10_000 });

    await (await testLedger(db)).topUpCash({ idempotencyKey: key('top'), memberId: poor.memberId, amountFen: 1, actor: SETUP });
    expect((await jobs.runNow('annual-fees')).runs[0]).toMatchObject({ result: { charged: 1, chargedFen: 10_000, unpaid: 0 } });
    expect(await principalOf(db, poor.memberId)).toBe(0);
    expect(await annualFees(db, poor.cardUid)).toMatchObject([{ period: '2100', amount_fen: 10_000 }]);
    await expectLedgerConsistent(db);
  });

  it('charges by the card fee schedule of the rules current at the run; a rule set published before card fees means the defaults; progress is logged per page', async () => {
    const asOf = new Date('2102-06-01T00:00:00Z');
    const personalFee = { ...DEFAULT_CARD_FEE_SCHEDULE, personal: { joining: 0, annual: 1_200, replacement: 2_000 }, group: { joining: 0, annual: 0, replacement: 0 }, vip: { joining: 0, annual: 0, replacement: 0 } };
    const a = await cardHolder(db, 'personal', 1_200);
    const b = await cardHolder(db, 'personal', 1_500);
    const progress: object[] = [];
    const logger = { info: (fields: object, msg: string) => progress.push({ ...fields, msg }), warn: () => {}, error: () => {} };
    const published = await chargeAnnualFees(db, ledger, { program: publishedAs(7, { ...DEFAULT_PROGRAM_RULES, cardFees: personalFee }), asOf, batchSize: 1, logger });
    // The personal card of the first test (5,000 fen) pays too: 3 personal cards, one page each.
    expect(published).toMatchObject({ rulesVersion: 7, charged: 3, chargedFen: 3_600, waived: 0, unpaid: 0 });
    expect([await principalOf(db, a.memberId), await principalOf(db, b.memberId)]).toEqual([0, 300]);
    expect(progress.map((p) => (p as { msg: string }).msg)).toEqual(['annual fees in progress', 'annual fees in progress', 'annual fees in progress', 'annual fees finished']);
    expect(progress[0]).toMatchObject({ page: 1, charged: 1 });
    expect(progress.at(-1)).toMatchObject({ charged: 3, chargedFen: 3_600 });

    const { cardFees: _none, ...beforeCardFees } = DEFAULT_PROGRAM_RULES;
    const fresh = await cardHolder(db, 'group', 10_000);
    const old = await chargeAnnualFees(db, ledger, { program: publishedAs(3, beforeCardFees), asOf });
    expect(old.rulesVersion).toBe(3);
    expect(await annualFees(db, fresh.cardUid)).toMatchObject([{ period: '2102', amount_fen: 10_000 }]);
    expect(await annualFees(db, a.cardUid)).toMatchObject([{ period: '2102', amount_fen: 1_200 }]);

    // No type with an annual fee: nothing is listed at all.
    const free = { ...personalFee, personal: { joining: 0, annual: 0, replacement: 0 } };
    expect(await chargeAnnualFees(db, ledger, { program: publishedAs(8, { ...DEFAULT_PROGRAM_RULES, cardFees: free }), asOf: new Date('2103-06-01T00:00:00Z') })).toMatchObject({ charged: 0, waived: 0, unpaid: 0 });
    await expectLedgerConsistent(db);
  });
});

describe('HUB_JOBS_INTERVAL_MS', () => {
  it.each([
    [undefined, 3_600_000, []],
    ['60000', 60_000, []],
    ['1000', 1_000, []],
    ['2147483647', 2_147_483_647, []],
    ['999', 3_600_000, ['HUB_JOBS_INTERVAL_MS must be a whole number of milliseconds from 1000 to 2147483647, got "999"']],
    ['2147483648', 3_600_000, ['HUB_JOBS_INTERVAL_MS must be a whole number of milliseconds from 1000 to 2147483647, got "2147483648"']],
    ['1e6', 3_600_000, ['HUB_JOBS_INTERVAL_MS must be a whole number of milliseconds from 1000 to 2147483647, got "1e6"']],
    ['hourly', 3_600_000, ['HUB_JOBS_INTERVAL_MS must be a whole number of milliseconds from 1000 to 2147483647, got "hourly"']],
  ])('%s → %i ms', (raw, intervalMs, problems) => {
    const read = new EnvReader(raw === undefined ? {} : { HUB_JOBS_INTERVAL_MS: raw });
    expect(jobsIntervalMsFromEnv(read)).toBe(intervalMs);
    expect(read.problems).toEqual(problems);
  });
});

describe('scheduled hub jobs on postgres (several hubs, one database)', () => {
  it('only one hub works on a job at a time; the other reports it skipped, and runs it once the lock is free', async () => {
    const db = await databases.open('postgres');
    await seedOrg(db);
    const store = new RulesStore(db);
    const gated = gatedRules(store);
    const sinkB = logSink();
    const hubA = await startHubJobs(db, gated.rules);
    const hubB = await startHubJobs(db, store, { logger: sinkB.logger });
    try {
      const runA = hubA.runNow('tier-review');
      await gated.inside;
      expect((await hubB.runNow('tier-review')).runs).toMatchObject([{ job: 'tier-review', status: 'skipped' }]);
      expect(sinkB.lines).toMatchObject([{ job: 'tier-review', status: 'skipped', msg: 'scheduled job skipped: another hub is running it' }]);
      // Other jobs are not held by tier-review's lock.
      expect((await hubB.runNow('coupon-expiry')).runs).toMatchObject([{ status: 'done' }]);
      gated.open();
      expect((await runA).runs).toMatchObject([{ status: 'done' }]);
      expect((await hubB.runNow('tier-review')).runs).toMatchObject([{ status: 'done' }]);
    } finally {
      await Promise.all([hubA.stop(), hubB.stop()]);
    }
  });

  it('annual fees: runs racing without the lock charge each card exactly once', async () => {
    const db = await databases.open('postgres');
    await seedOrg(db);
    const holders = await Promise.all(Array.from({ length: 6 }, () => cardHolder(db, 'group', 15_000)));
    const program = await new RulesStore(db).current();
    const ledger = await testLedger(db);
    const runs = await Promise.all([1, 2, 3].map(() => chargeAnnualFees(db, ledger, { program, asOf: AS_OF, batchSize: 2 })));
    expect(runs.reduce((sum, run) => sum + run.charged, 0)).toBe(holders.length);
    expect(runs.every((run) => run.unpaid === 0 && run.failed === 0)).toBe(true);
    for (const holder of holders) {
      expect(await annualFees(db, holder.cardUid)).toMatchObject([{ period: '2100', amount_fen: 10_000 }]);
      expect(await principalOf(db, holder.memberId)).toBe(5_000);
    }
    const fees = await db.query("SELECT id FROM ledger_transactions WHERE kind = 'card_fee'");
    expect(fees.rows).toHaveLength(holders.length);
    await expectLedgerConsistent(db);
  });
});
