/**
 * Daily check-in on the hub (rule: shared/rules/check-in.ts). Once per member per local day in the store's
 * time zone — the store where the member checks in, else their home store, else the program's zone.
 *
 * "Once" holds three ways: a read of the last check-in refuses a second one the same day
 * (ALREADY_CHECKED_IN); the ledger transaction's idempotency key is `check-in:<member>:<local date>`, so
 * concurrent duplicates collapse onto one posting; and check_ins' primary key (member, local_date) is the
 * final word inside the transaction. The award is capped by the points budgets; a check-in the budget leaves
 * nothing for (or whose last points a concurrent award took) still counts for the streak, with 0 points and no ledger transaction.
 */
import { AlreadyCheckedInError, checkInAward, CheckInDisabledError, type CheckInAward, type LastCheckIn } from '../../shared/rules/check-in.ts';
import { pointsExpireAt } from '../../shared/rules/points-expiry.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { HubError, kernelErrors, splitBilingual } from '../kernel/errors.ts';
import { awardLegs, lockMember, memberIdOf, profileOf, type Ledger, type MemberView } from '../ledger/index.ts';
import { getStore, storeNotFound } from '../org/index.ts';
import { budgetAllowance, consumeBudget, type BudgetAlert } from './budgets.ts';
import { programErrors } from './errors.ts';
import type { PublishedRules } from './rules-store.ts';

export interface CheckInInput {
  memberId: string;
  /** Where the member checks in; decides the local day and counts against the store's budget. */
  storeId?: string;
  actor: Actor;
  /** The instant of the check-in (default now). */
  at?: Date;
}

export interface CheckInResult {
  localDate: string;
  streak: number;
  /** Points credited: the rule's points cut down by the budget. */
  points: number;
  /** What the rule gave before the budget (base + streak bonus). */
  rulePoints: number;
  streakBonusPoints: number;
  /** Null when nothing was credited. */
  txId: string | null;
  member: MemberView;
  alerts: BudgetAlert[];
  rulesVersion: number;
}

function alreadyCheckedIn(localDate: string): HubError {
  return programErrors.ALREADY_CHECKED_IN({ zh: `今天已签到（${localDate}）`, en: `This member already checked in today (${localDate})` });
}

/** The budget left nothing to award: no posting, the check-in still counts for the streak. */
class NothingToAward extends Error {}

async function zoneOf(q: Queryable, memberId: string, storeId: string | undefined, fallback: string): Promise<string> {
  if (storeId !== undefined) {
    const store = await getStore(q, storeId);
    if (!store) throw storeNotFound(storeId);
    return store.timeZone;
  }
  const { homeStoreId } = await profileOf(q, memberId);
  const home = homeStoreId === null ? undefined : await getStore(q, homeStoreId);
  return home?.timeZone ?? fallback;
}

async function lastCheckIn(q: Queryable, memberId: string): Promise<LastCheckIn | null> {
  const { rows } = await q.query<{ local_date: string; streak: number }>(
    `SELECT to_char(local_date, 'YYYY-MM-DD') AS local_date, streak FROM check_ins WHERE member_id = $1 ORDER BY local_date DESC LIMIT 1`,
    [memberId],
  );
  return rows[0] ? { localDate: rows[0].local_date, streak: rows[0].streak } : null;
}

/** Records the check-in row; false when that day already has one. */
async function insertCheckIn(tx: Queryable, memberId: string, award: CheckInAward, points: number, storeId: string | undefined, txId: string | null): Promise<boolean> {
  const { rows } = await tx.query(
    `INSERT INTO check_ins (member_id, local_date, streak, points, store_id, tx_id) VALUES ($1, $2::date, $3, $4, $5, $6)
     ON CONFLICT (member_id, local_date) DO NOTHING RETURNING member_id`,
    [memberId, award.localDate, award.streak, points, storeId ?? null, txId],
  );
  return rows.length === 1;
}

export async function checkIn(db: Database, ledger: Ledger, program: PublishedRules, input: CheckInInput): Promise<CheckInResult> {
  const memberId = memberIdOf(input.memberId);
  const at = input.at ?? new Date();
  const { rules } = program;
  const zone = await zoneOf(db, memberId, input.storeId, rules.checkIn.timeZone);
  let award: CheckInAward;
  try {
    award = checkInAward(rules.checkIn, at, zone, await lastCheckIn(db, memberId));
  } catch (error) {
    if (error instanceof AlreadyCheckedInError) throw alreadyCheckedIn(error.localDate);
    if (error instanceof CheckInDisabledError) throw kernelErrors.CONFLICT(splitBilingual(error.message));
    throw error;
  }
  const use = { memberId, storeId: input.storeId ?? null, direction: 'earn' as const, points: award.points, at };
  const base = { localDate: award.localDate, streak: award.streak, rulePoints: award.points, streakBonusPoints: award.streakBonusPoints, rulesVersion: program.version };

  if (award.points > 0) {
    try {
      const posted = await ledger.post({
        kind: 'points_award',
        owner: 'program',
        idempotencyKey: `check-in:${memberId}:${award.localDate}`,
        memberId,
        actor: input.actor,
        reason: `每日签到 daily check-in ${award.localDate}`,
        ...(input.storeId ? { storeId: input.storeId } : {}),
        intent: { checkIn: award.localDate, rulesVersion: program.version },
        legs: async (_balances, tx) => {
          const credited = (await budgetAllowance(tx, rules.budgets, use)).allowedPoints;
          // Nothing left in the budget: no posting; recorded below as a 0-point check-in.
          if (credited === 0) throw new NothingToAward();
          return { legs: awardLegs(credited), context: credited };
        },
        pointsLots: { expiresAt: pointsExpireAt(rules.pointsExpiry, at) },
        effects: async (tx, { txId, context: credited }) => {
          if (!(await insertCheckIn(tx, memberId, award, credited, input.storeId, txId))) throw alreadyCheckedIn(award.localDate);
          return { credited, alerts: await consumeBudget(tx, rules.budgets, { ...use, points: credited }, txId) };
        },
      });
      if (posted.replay) throw alreadyCheckedIn(award.localDate);
      return { ...base, points: posted.outcome.credited, txId: posted.txId, member: posted.member, alerts: posted.outcome.alerts };
    } catch (error) {
      // A concurrent check-in the same day took the key first (with another actor): still "already checked in".
      if (error instanceof HubError && error.code === kernelErrors.IDEMPOTENCY_CONFLICT.code) throw alreadyCheckedIn(award.localDate);
      // A concurrent award took the budget's last points: a 0-point check-in, as below.
      if (!(error instanceof NothingToAward) && !(error instanceof HubError && error.code === programErrors.BUDGET_EXCEEDED.code)) throw error;
    }
  }
  return db.transaction(async (tx) => {
    await lockMember(tx, memberId);
    if (!(await insertCheckIn(tx, memberId, award, 0, input.storeId, null))) throw alreadyCheckedIn(award.localDate);
    return { ...base, points: 0, txId: null, member: (await ledger.readMember(tx, memberId))!, alerts: [] };
  });
}
