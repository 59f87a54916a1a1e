import type { Logger } from '../../shared/logger.ts';
import { chargeAnnualFees } from '../cards/annual-fee-job.ts';
import { expireVouchers } from '../catalog/vouchers.ts';
import { expireCoupons } from '../coupons/expiry-job.ts';
import type { Database } from '../db/database.ts';
import { expirePoints } from '../ledger/points-expiry-job.ts';
import type { Actor } from '../ledger/types.ts';
import type { RulesStore } from '../program/rules-store.ts';
import { runTierReview } from '../program/tiers.ts';
import { hubJobLock } from './job-lock.ts';
import { type ScheduledJob, type Scheduler, startScheduler } from './scheduler.ts';

/**
 * The hub's periodic jobs, each the same function its REST route runs (POST /jobs/points-expiry,
 * /jobs/coupon-expiry, /jobs/voucher-expiry, /program/tier-reviews), here run on a timer by the system; the
 * annual card fees (cloud/cards/annual-fee-job.ts) run only here.
 *
 * Every job is idempotent: an expired lot, coupon or voucher is not expired again, a member reviewed twice
 * at nearly the same instant keeps their tier (a downgrade restarts the retention), and a card's annual fee
 * is recorded once per local year. So several hubs on one database may all run them; on PostgreSQL an
 * advisory lock per job (job-lock.ts) lets one hub at a time work.
 */

export const HUB_JOB_NAMES = ['points-expiry', 'coupon-expiry', 'voucher-expiry', 'tier-review', 'annual-fees'] as const;
export type HubJobName = (typeof HUB_JOB_NAMES)[number];

export const TIER_REVIEW_JOB_ACTOR: Actor = { type: 'system', id: 'tier-review-job' };
const TIER_REVIEW_REASON = '定期等级评审 / Scheduled tier review';

export interface ScheduledJobsOptions {
  readonly db: Database;
  /** The tier review and the annual fees use the rules current when each run starts. */
  readonly rules: Pick<RulesStore, 'current'>;
  readonly logger: Logger;
  /** Time between the end of one round of jobs and the start of the next (e.g. hourly). */
  readonly intervalMs: number;
  /** The clock giving each run its asOf; defaults to the system clock. */
  readonly now?: () => Date;
}

export interface ScheduledJobs extends Scheduler {
  runNow(name?: HubJobName): ReturnType<Scheduler['runNow']>;
}

function hubJobs(db: Database, rules: ScheduledJobsOptions['rules']): Record<HubJobName, ScheduledJob['run']> {
  return {
    'points-expiry': ({ asOf, logger }) => expirePoints(db, { asOf, logger }),
    'coupon-expiry': ({ asOf, logger }) => expireCoupons(db, { asOf, logger }),
    'voucher-expiry': ({ asOf }) => expireVouchers(db, { asOf }),
    'tier-review': async ({ asOf, logger }) =>
      runTierReview(db, { program: await rules.current(), at: asOf, actor: TIER_REVIEW_JOB_ACTOR, reason: TIER_REVIEW_REASON, logger }),
    'annual-fees': async ({ asOf, logger }) => chargeAnnualFees(db, { program: await rules.current(), asOf, logger }),
  };
}

/** Starts running the hub's jobs every `intervalMs`; stop() it before the database closes. */
export function startScheduledJobs({ db, rules, logger, intervalMs, now }: ScheduledJobsOptions): ScheduledJobs {
  const runs = hubJobs(db, rules);
  return startScheduler({
    jobs: HUB_JOB_NAMES.map((name) => ({ name, run: runs[name] })),
    logger,
    intervalMs,
    lock: hubJobLock(db),
    ...(now ? { now } : {}),
  });
}
