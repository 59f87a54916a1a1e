/**
 * Member tiers on the hub: the stored tier, the qualifying spend it is based on, immediate upgrades and the
 * periodic review (rules in shared/rules/tiers.ts and tier-review.ts).
 *
 * Qualifying spend of a member at instant `at` = what they paid in the window (at − spendWindowDays × 24 h, at]:
 * - stored value spent outside a checkout: stored-value payments, as the ledger reports them at their posting
 *   time (refunded ones not counted);
 * - plus the money paid at every POS checkout (stored value + cash or bank card), which checkout records with
 *   `recordQualifyingSpend` at the instant of the sale. Recorded, not read from the ledger, because the
 *   ledger never sees cash (a cash-only sale that earns nothing posts no ledger transaction at all) and
 *   because the sale's instant — the one its upgrade is judged at — precedes its posting time; a refunded
 *   checkout cancels its spend (`cancelQualifyingSpend`, in the refund's transaction).
 * Top-ups are not spend (the money is still the member's), nor are points.
 */
import { randomUUID } from 'node:crypto';
import { isFen } from '../../shared/money.ts';
import type { ProgramRules } from '../../shared/rules/program.ts';
import { retentionEnd, reviewTier, tierProgress, tierWarning, type MemberTierState, type TierProgress, type TierWarning } from '../../shared/rules/tier-review.ts';
import { tierById, upgradeOnSpend, type TierBenefits, type TierId } from '../../shared/rules/tiers.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { invalid } from '../kernel/input.ts';
import { ledgerErrors, lockMember, memberChanged, profileOf, storedValueSpentFen, type LedgerPorts } from '../ledger/index.ts';
import type { PublishedRules, RulesStore } from './rules-store.ts';

const DAY_MS = 86_400_000;

/** The tier of a member the program has not stored one for. */
const DEFAULT_TIER = 'standard';

/** A scalar subquery: the member's recorded qualifying spend (fen) in (from, to], without cancelled purchases. */
export function recordedSpendSql(memberId: string, from: string, to: string): string {
  return `SELECT coalesce(sum(amount_fen), 0) FROM qualifying_spend
           WHERE member_id = ${memberId} AND at > ${from} AND at <= ${to} AND cancelled_at IS NULL`;
}

/** The start of the tier spend window that ends at `at`. */
export const spendWindowStart = (at: Date, windowDays: number) => new Date(at.getTime() - windowDays * DAY_MS);

/** The member's qualifying spend (fen) in the window ending at `at` (inclusive), never below 0. */
export async function windowSpendFen(q: Queryable, memberId: string, at: Date, windowDays: number): Promise<number> {
  const from = spendWindowStart(at, windowDays);
  const { rows } = await q.query<{ spend: string | number }>(`SELECT (${recordedSpendSql('$1', '$2::timestamptz', '$3::timestamptz')}) AS spend`, [
    memberId,
    from.toISOString(),
    at.toISOString(),
  ]);
  return Math.max(0, Number(rows[0]!.spend) + (await storedValueSpentFen(q, memberId, from, at)));
}

/** One row (none without a stored tier): columns tier_id, tier_since. */
export function memberTierSql(memberId: string): string {
  return `SELECT tier AS tier_id, since AS tier_since FROM member_tiers WHERE member_id = ${memberId}`;
}

export interface MemberTierRow {
  tier_id: string | null;
  tier_since: Date | string | null;
}

/** The tier a member snapshot shows: the stored one, else the default. */
export const shownTierOf = (row: MemberTierRow | undefined): string => row?.tier_id ?? DEFAULT_TIER;

/** The tier state of a memberTierSql row: a member without a row (or with a tier the rules no longer define) holds the lowest tier since joining. */
export function tierStateOf(row: MemberTierRow | undefined, rules: ProgramRules, joinedAt: Date): MemberTierState {
  const known = row?.tier_id != null && row.tier_since != null && rules.tiers.tiers.some((t) => t.id === row.tier_id);
  return known ? { tier: row.tier_id as TierId, since: new Date(row.tier_since!) } : { tier: rules.tiers.tiers[0]!.id, since: joinedAt };
}

/** The stored tier; a member without a row (or with a tier the current rules no longer define) holds the lowest tier since registration. */
export async function readTierState(q: Queryable, memberId: string, rules: ProgramRules, joinedAt?: Date): Promise<MemberTierState> {
  const createdAt = joinedAt ?? (await profileOf(q, memberId)).createdAt;
  const { rows } = await q.query<MemberTierRow>(memberTierSql('$1'), [memberId]);
  return tierStateOf(rows[0], rules, createdAt);
}

export interface TierChangeContext {
  readonly program: PublishedRules;
  readonly at: Date;
  readonly actor: Actor;
  readonly reason: string;
  readonly reviewRunId?: string;
}

async function writeTier(
  tx: Queryable,
  memberId: string,
  from: MemberTierState,
  to: MemberTierState,
  outcome: 'upgraded' | 'confirmed' | 'downgraded',
  spendFen: number,
  ctx: TierChangeContext,
): Promise<void> {
  await tx.query(
    `INSERT INTO member_tiers (member_id, tier, since) VALUES ($1, $2, $3)
     ON CONFLICT (member_id) DO UPDATE SET tier = EXCLUDED.tier, since = EXCLUDED.since, updated_at = now()`,
    [memberId, to.tier, to.since.toISOString()],
  );
  await tx.query(
    `INSERT INTO member_tier_changes
       (member_id, from_tier, to_tier, outcome, window_spend_fen, rules_version, review_run_id, actor_type, actor_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [memberId, from.tier, to.tier, outcome, spendFen, ctx.program.version, ctx.reviewRunId ?? null, ctx.actor.type, ctx.actor.id, ctx.reason],
  );
  // Kiosks cache the member snapshot, which shows the tier: a new tier is a new version.
  if (from.tier !== to.tier) await memberChanged(tx, memberId);
}

/**
 * Immediate upgrade: lifts the member to the tier their window spend at `ctx.at` reaches, never lowers it.
 * Call inside the transaction that recorded the spend (e.g. a checkout's `effects`), which holds the member lock.
 */
export async function refreshTier(tx: Queryable, memberId: string, ctx: TierChangeContext): Promise<{ tier: TierId; upgraded: boolean }> {
  const { rules } = ctx.program;
  const state = await readTierState(tx, memberId, rules);
  const spend = await windowSpendFen(tx, memberId, ctx.at, rules.tiers.spendWindowDays);
  const next = upgradeOnSpend(state.tier, spend, rules.tiers);
  if (next.id === state.tier) return { tier: state.tier, upgraded: false };
  await writeTier(tx, memberId, state, { tier: next.id, since: ctx.at }, 'upgraded', spend, ctx);
  return { tier: next.id, upgraded: true };
}

export interface QualifyingSpendInput {
  readonly memberId: string;
  /** The checkout of the purchase (its refund cancels this spend). */
  readonly checkoutId?: string;
  /** The ledger transaction of the purchase, null when it posted none (a refund of it cancels this spend). */
  readonly txId: string | null;
  /** Money paid (stored value + cash or bank card; not points), fen ≥ 0. */
  readonly amountFen: number;
}

/**
 * For checkout, inside its transaction (`effects`, or the member-locked transaction of a sale that posts
 * nothing): records the money paid at `ctx.at`, then upgrades the member if the purchase lifted their window
 * spend over a threshold.
 */
export async function recordQualifyingSpend(tx: Queryable, input: QualifyingSpendInput, ctx: TierChangeContext): Promise<{ tier: TierId; upgraded: boolean }> {
  if (!isFen(input.amountFen) || input.amountFen < 0) {
    throw ledgerErrors.INVALID_AMOUNT({ zh: `支付金额须为 ≥ 0 的整数分：${String(input.amountFen)}`, en: `The amount paid must be whole fen ≥ 0: ${String(input.amountFen)}` });
  }
  if (input.txId === null && input.checkoutId === undefined) {
    throw invalid('消费记录须注明其结账或交易', 'A qualifying spend needs the checkout or ledger transaction whose refund would cancel it');
  }
  if (input.amountFen > 0) {
    await tx.query('INSERT INTO qualifying_spend (member_id, tx_id, checkout_id, amount_fen, at) VALUES ($1, $2, $3, $4, $5)', [
      input.memberId, input.txId, input.checkoutId ?? null, input.amountFen, ctx.at.toISOString(),
    ]);
  }
  return refreshTier(tx, input.memberId, ctx);
}

/** A refunded checkout's spend stops counting towards the tier (in the refund's transaction). */
export async function cancelQualifyingSpend(tx: Queryable, checkoutId: string): Promise<void> {
  await tx.query('UPDATE qualifying_spend SET cancelled_at = now() WHERE checkout_id = $1 AND cancelled_at IS NULL', [checkoutId]);
}

/**
 * The ledger's `tiers` port: a member's tier for their snapshot, and the immediate upgrade after a stored-value
 * payment, in the payment's transaction with the rules published then.
 */
export function tiersPort(rules: Pick<RulesStore, 'currentWithin'>): LedgerPorts['tiers'] {
  return {
    tierSql: memberTierSql,
    tierOf: (row) => shownTierOf(row as MemberTierRow),
    async onStoredValueSpend(tx, { memberId, at, actor }) {
      const program = await rules.currentWithin(tx);
      await refreshTier(tx, memberId, { program, at, actor, reason: 'Qualifying stored-value spend' });
    },
  };
}

export interface TierStatus {
  tier: TierId;
  nameZh: string;
  nameEn: string;
  since: string;
  /** Until then the tier is kept whatever the spend. */
  retainedUntil: string;
  windowSpendFen: number;
  benefits: TierBenefits;
  progress: TierProgress | null;
  warning: (Omit<TierWarning, 'deadline'> & { deadline: string }) | null;
  rulesVersion: number;
}

/** What GET /members/:id/tier shows: tier, spend, "spend ¥X more to reach Gold" and any warning of a drop. */
export async function tierStatus(q: Queryable, memberId: string, program: PublishedRules, at: Date): Promise<TierStatus> {
  const { rules } = program;
  const state = await readTierState(q, memberId, rules);
  const spend = await windowSpendFen(q, memberId, at, rules.tiers.spendWindowDays);
  const tier = tierById(state.tier, rules.tiers);
  const warning = tierWarning(rules.tiers, rules.tierReview, state, spend, at);
  return {
    tier: tier.id,
    nameZh: tier.nameZh,
    nameEn: tier.nameEn,
    since: state.since.toISOString(),
    retainedUntil: retentionEnd(rules.tierReview, state.since).toISOString(),
    windowSpendFen: spend,
    benefits: tier.benefits,
    progress: tierProgress(rules.tiers, state, spend),
    warning: warning && { ...warning, deadline: warning.deadline.toISOString() },
    rulesVersion: program.version,
  };
}

export interface TierReviewRun {
  runId: string;
  asOf: string;
  rulesVersion: number;
  reviewed: number;
  confirmed: number;
  retained: number;
  downgraded: number;
}

export interface TierReviewOptions {
  readonly program: PublishedRules;
  readonly at: Date;
  readonly actor: Actor;
  readonly reason: string;
  /** Progress lines go here (pino or Fastify's request logger). */
  readonly logger?: { info(fields: object, message: string): void };
  /** Members per progress step (default 500). */
  readonly batchSize?: number;
}

/**
 * The periodic review: every member above the lowest tier is reviewed at `at`, one transaction per member
 * (a failure leaves the others done; re-running is harmless — a member reviewed again is confirmed or
 * retained again). Progress is logged and saved on the run row after every batch, so a long run can be watched.
 */
export async function runTierReview(db: Database, options: TierReviewOptions): Promise<TierReviewRun> {
  const { program, at, actor, reason, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const lowest = program.rules.tiers.tiers[0]!.id;
  const run: TierReviewRun = { runId: randomUUID(), asOf: at.toISOString(), rulesVersion: program.version, reviewed: 0, confirmed: 0, retained: 0, downgraded: 0 };
  await db.query(
    'INSERT INTO tier_review_runs (id, as_of, rules_version, actor_type, actor_id, reason) VALUES ($1, $2, $3, $4, $5, $6)',
    [run.runId, run.asOf, run.rulesVersion, actor.type, actor.id, reason],
  );
  logger?.info({ runId: run.runId, asOf: run.asOf, rulesVersion: run.rulesVersion }, 'tier review started');
  const ctx: TierChangeContext = { program, at, actor, reason, reviewRunId: run.runId };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await db.query<{ member_id: string }>(
      'SELECT member_id FROM member_tiers WHERE tier <> $1 AND member_id > $2 ORDER BY member_id LIMIT $3',
      [lowest, after, batchSize],
    );
    if (rows.length === 0) break;
    for (const { member_id: memberId } of rows) {
      const outcome = await reviewMember(db, memberId, ctx);
      run.reviewed++;
      if (outcome === 'confirmed' || outcome === 'upgraded') run.confirmed++;
      else run[outcome]++;
    }
    after = rows[rows.length - 1]!.member_id;
    await saveRun(db, run, false);
    logger?.info({ ...run }, 'tier review progress');
  }
  await saveRun(db, run, true);
  logger?.info({ ...run }, 'tier review finished');
  return run;
}

async function reviewMember(db: Database, memberId: string, ctx: TierChangeContext) {
  const { rules } = ctx.program;
  return db.transaction(async (tx) => {
    await lockMember(tx, memberId);
    const state = await readTierState(tx, memberId, rules);
    const spend = await windowSpendFen(tx, memberId, ctx.at, rules.tiers.spendWindowDays);
    const result = reviewTier(rules.tiers, rules.tierReview, state, spend, ctx.at);
    if (result.outcome !== 'retained') await writeTier(tx, memberId, state, result, result.outcome, spend, ctx);
    return result.outcome;
  });
}

async function saveRun(db: Database, run: TierReviewRun, finished: boolean): Promise<void> {
  await db.query(
    `UPDATE tier_review_runs SET reviewed = $2, confirmed = $3, retained = $4, downgraded = $5,
            finished_at = CASE WHEN $6::boolean THEN now() ELSE finished_at END WHERE id = $1`,
    [run.runId, run.reviewed, run.confirmed, run.retained, run.downgraded, finished],
  );
}
