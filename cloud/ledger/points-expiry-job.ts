import { type ExpiringSoon } from '../../shared/rules/points-expiry.ts';
import type { Database } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { invalid } from '../kernel/input.ts';
import { systemAccounts } from './accounts.ts';
import type { Ledger } from './ledger.ts';
import { type DueLot, type PointsLotView, dueLots, expiringSoon, listOpenLots, moveLot } from './points-lots.ts';
import { memberIdOf, memberNotFound } from './validate.ts';

/**
 * The points expiry job: every lot whose expires_at ≤ asOf and that still holds points is expired by its
 * own 'points_expiry' transaction (points → points_expired). Safe to run any number of times, also
 * concurrently: the idempotency key names the lot and how many moves it had, so the same lot state is
 * expired once, while a lot a refund later refilled gets a new key and is expired again.
 */

export const EXPIRY_JOB_ACTOR: Actor = { type: 'system', id: 'points-expiry-job' };
const REASON = '积分过期 / Points expired';

export interface ExpiryRun {
  asOf: string;
  /** Lots expired by this run. */
  expiredLots: number;
  expiredPoints: number;
  /** Lots another run (or a spend) got to first; the next run sees their new state. */
  skippedLots: number;
}

export interface ExpiryOptions {
  asOf?: Date;
  /** Lots per page; progress is logged per page on runs longer than one page. */
  batchSize?: number;
  /** pino (the hub's logger, or a request's). */
  logger?: { info: (fields: object, message: string) => void };
}

/** The lot moved since it was listed: another run expired it, or a spend or refund changed it. */
class LotChanged extends Error {}

export async function expirePoints(db: Database, ledger: Ledger, { asOf = new Date(), batchSize = 500, logger }: ExpiryOptions = {}): Promise<ExpiryRun> {
  if (!Number.isSafeInteger(asOf.getTime())) throw invalid('asOf 须为有效的时间', 'asOf must be a valid instant');
  const run: ExpiryRun = { asOf: asOf.toISOString(), expiredLots: 0, expiredPoints: 0, skippedLots: 0 };
  let afterSeq = 0;
  for (let page = 1; ; page++) {
    const lots = await dueLots(db, asOf, batchSize, afterSeq);
    for (const lot of lots) {
      const points = await expireLot(ledger, lot);
      if (points === undefined) run.skippedLots++;
      else {
        run.expiredLots++;
        run.expiredPoints += points;
      }
    }
    if (lots.length < batchSize) break;
    afterSeq = lots[lots.length - 1]!.seq;
    logger?.info({ page, ...run }, 'points expiry in progress');
  }
  logger?.info(run, 'points expiry finished');
  return run;
}

/** Expires one lot; the points expired, or undefined when the lot changed since it was listed. */
async function expireLot(ledger: Ledger, lot: DueLot): Promise<number | undefined> {
  try {
    const posted = await ledger.post({
      kind: 'points_expiry',
      owner: 'ledger',
      idempotencyKey: `points-expiry:${lot.lotId}:${lot.moves}`,
      memberId: lot.memberId,
      actor: EXPIRY_JOB_ACTOR,
      reason: REASON,
      intent: { lotId: lot.lotId, moves: lot.moves },
      // Re-read under the member lock: a spend since the listing may have taken from the lot.
      legs: async (_balances, tx) => {
        const { rows } = await tx.query<{ remaining: number; moves: number }>(
          `SELECT remaining, (SELECT count(*) FROM points_lot_moves WHERE lot_id = $1)::int AS moves FROM points_lots WHERE id = $1`,
          [lot.lotId],
        );
        const now = rows[0];
        if (!now || now.moves !== lot.moves || now.remaining === 0) throw new LotChanged();
        const points = now.remaining;
        return {
          legs: [
            { account: 'points', amount: -points },
            { account: systemAccounts.pointsExpired(), amount: points },
          ],
          context: points,
        };
      },
      pointsLots: 'custom',
      effects: async (tx, { txId, context: points }) => {
        await moveLot(tx, txId, lot.lotId, -points);
        return points;
      },
    });
    return posted.replay ? undefined : posted.outcome;
  } catch (error) {
    if (error instanceof LotChanged) return undefined;
    throw error;
  }
}

/** A member's open lots, soonest-expiring first. */
export async function pointsLots(db: Database, memberId: unknown): Promise<{ memberId: string; lots: PointsLotView[] }> {
  const id = await existingMember(db, memberId);
  return { memberId: id, lots: await listOpenLots(db, id) };
}

/** Points that expire within `withinDays` days from asOf (default now), for member warnings. */
export async function pointsExpiringSoon(
  db: Database,
  memberId: unknown,
  withinDays: number,
  asOf: Date = new Date(),
): Promise<{ memberId: string } & ExpiringSoon> {
  const id = await existingMember(db, memberId);
  if (!Number.isSafeInteger(withinDays) || withinDays < 0 || withinDays > 3660) {
    throw invalid('withinDays 须为 0 至 3660 之间的整数', 'withinDays must be a whole number from 0 to 3660');
  }
  return { memberId: id, ...(await expiringSoon(db, id, asOf, withinDays)) };
}

async function existingMember(db: Database, memberId: unknown): Promise<string> {
  const id = memberIdOf(memberId);
  if ((await db.query('SELECT 1 FROM members WHERE id = $1', [id])).rows.length === 0) throw memberNotFound(id);
  return id;
}
