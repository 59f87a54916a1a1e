import { newId } from '../../shared/ids.ts';
import { allocatePointsDebit, compareLots, pointsExpiringWithin, type ExpiringSoon, type LotBalance, type LotTake } from '../../shared/rules/points-expiry.ts';
import type { Queryable } from '../db/database.ts';

/**
 * Points lots on the hub (migration 007): one lot per points credit, debits take from the soonest-expiring
 * lot first (the pure allocation in shared/rules/points-expiry.ts), and every change after a lot's creation
 * is a row in points_lot_moves tied to its ledger transaction. Every function here runs inside a ledger
 * transaction that already holds the member lock, which is what keeps a member's lots consistent.
 */

export interface PointsLotView {
  lotId: string;
  awardTxId: string | null;
  awardedAt: string;
  points: number;
  remaining: number;
  /** ISO instant; null = never expires. */
  expiresAt: string | null;
}

interface LotRow {
  id: string;
  seq: number;
  award_tx_id: string | null;
  awarded_at: Date;
  points: number;
  remaining: number;
  expires_at: Date | null;
}

const LOT_COLUMNS = 'id, seq, award_tx_id, awarded_at, points, remaining, expires_at';

function toBalance(row: LotRow): LotBalance {
  return { id: row.id, remaining: row.remaining, expiresAt: row.expires_at?.getTime() ?? null, awardOrder: row.seq };
}

function toView(row: LotRow): PointsLotView {
  return {
    lotId: row.id,
    awardTxId: row.award_tx_id,
    awardedAt: row.awarded_at.toISOString(),
    points: row.points,
    remaining: row.remaining,
    expiresAt: row.expires_at?.toISOString() ?? null,
  };
}

async function openLotsOf(q: Queryable, memberId: string): Promise<LotRow[]> {
  const { rows } = await q.query<LotRow>(
    `SELECT ${LOT_COLUMNS} FROM points_lots WHERE member_id = $1 AND remaining > 0 ORDER BY seq`,
    [memberId],
  );
  return rows;
}

/** A lot to open for a points credit. */
export interface NewLot {
  memberId: string;
  txId: string;
  points: number;
  expiresAt: Date | null;
}

/** Opens a lot for a points credit. */
export async function openLot(tx: Queryable, memberId: string, txId: string, points: number, expiresAt: Date | null): Promise<void> {
  await openLots(tx, [{ memberId, txId, points, expiresAt }]);
}

/** Opens lots in one statement, in award order. */
export async function openLots(tx: Queryable, lots: readonly NewLot[]): Promise<void> {
  await tx.query(
    `INSERT INTO points_lots (id, member_id, award_tx_id, points, remaining, expires_at)
     SELECT id, member_id, tx_id, points, points, expires_at
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::timestamptz[]) WITH ORDINALITY AS l(id, member_id, tx_id, points, expires_at, n)
      ORDER BY n`,
    [lots.map(() => newId()), lots.map((l) => l.memberId), lots.map((l) => l.txId), lots.map((l) => l.points), lots.map((l) => l.expiresAt)],
  );
}

/** Moves `points` (signed) on one lot and records the move; the CHECKs keep 0 ≤ remaining ≤ points. */
export async function moveLot(tx: Queryable, txId: string, lotId: string, points: number): Promise<void> {
  await tx.query('UPDATE points_lots SET remaining = remaining + $2 WHERE id = $1', [lotId, points]);
  await tx.query('INSERT INTO points_lot_moves (tx_id, lot_id, points) VALUES ($1, $2, $3)', [txId, lotId, points]);
}

/** Takes `points` (> 0) from the member's lots, soonest-expiring first. */
export async function consumeLots(tx: Queryable, memberId: string, txId: string, points: number): Promise<LotTake[]> {
  const takes = allocatePointsDebit((await openLotsOf(tx, memberId)).map(toBalance), points);
  for (const take of takes) await moveLot(tx, txId, take.lotId, -take.points);
  return takes;
}

/**
 * The member's points balance must equal what their lots hold. Checked at the end of every transaction
 * that moves points, so a caller that moves points without the matching lot change fails loudly (a bug,
 * not a business refusal) and rolls back.
 */
export async function assertLotsMatchBalance(tx: Queryable, memberId: string): Promise<void> {
  await assertLotsMatchBalances(tx, [memberId]);
}

/** assertLotsMatchBalance for several members, in one statement. */
export async function assertLotsMatchBalances(tx: Queryable, memberIds: readonly string[]): Promise<void> {
  const { rows } = await tx.query<{ member_id: string; balance: number; lots: number }>(
    `SELECT a.member_id, a.balance,
            coalesce((SELECT sum(remaining) FROM points_lots l WHERE l.member_id = a.member_id AND l.remaining > 0), 0)::bigint AS lots
       FROM accounts a WHERE a.member_id = ANY($1::uuid[]) AND a.kind = 'points'`,
    [memberIds],
  );
  const drifted = rows.find((row) => row.balance !== row.lots);
  if (drifted) throw new Error(`points lots of member ${drifted.member_id} hold ${drifted.lots} but the balance is ${drifted.balance}`);
}

/** The net move per lot of a transaction (negative: it took points), to give them back on refund. */
export async function movesOf(q: Queryable, txId: string): Promise<Array<{ lotId: string; points: number }>> {
  const { rows } = await q.query<{ lot_id: string; points: number }>(
    `SELECT lot_id, sum(points)::bigint AS points FROM points_lot_moves WHERE tx_id = $1
      GROUP BY lot_id HAVING sum(points) <> 0 ORDER BY lot_id`,
    [txId],
  );
  return rows.map((row) => ({ lotId: row.lot_id, points: row.points }));
}

export interface AwardedLot {
  lotId: string;
  points: number;
  remaining: number;
  /** Points of this lot that the expiry job already took: those are gone and are not reversed again. */
  expired: number;
}

/** The lots a transaction opened, with how much of each has expired. */
export async function lotsAwardedBy(q: Queryable, txId: string): Promise<AwardedLot[]> {
  const { rows } = await q.query<{ id: string; points: number; remaining: number; expired: number }>(
    `SELECT l.id, l.points, l.remaining,
            coalesce(-(SELECT sum(m.points) FROM points_lot_moves m JOIN ledger_transactions t ON t.id = m.tx_id
                        WHERE m.lot_id = l.id AND t.kind = 'points_expiry'), 0)::bigint AS expired
       FROM points_lots l WHERE l.award_tx_id = $1 ORDER BY l.seq`,
    [txId],
  );
  return rows.map((row) => ({ lotId: row.id, points: row.points, remaining: row.remaining, expired: row.expired }));
}

/** A member's lots that still hold points, soonest-expiring first. */
export async function listOpenLots(q: Queryable, memberId: string): Promise<PointsLotView[]> {
  const rows = await openLotsOf(q, memberId);
  return rows.sort((a, b) => compareLots(toBalance(a), toBalance(b))).map(toView);
}

/** The member's lots that still hold points, as the pure rules take them (shared/rules/points-expiry.ts). */
export async function openLotBalances(q: Queryable, memberId: string): Promise<LotBalance[]> {
  return (await openLotsOf(q, memberId)).map(toBalance);
}

/** What expires within `withinDays` of asOf, from the member's open lots. */
export async function expiringSoon(q: Queryable, memberId: string, asOf: Date, withinDays: number): Promise<ExpiringSoon> {
  return pointsExpiringWithin((await openLotsOf(q, memberId)).map(toBalance), asOf, withinDays);
}

export interface DueLot {
  lotId: string;
  memberId: string;
  remaining: number;
  expiresAt: Date;
  /** How many moves the lot has had: part of the expiry's idempotency key (see points-expiry-job.ts). */
  moves: number;
}

/** Lots past their expiry that still hold points, oldest first, at most `limit`, after `afterSeq` (paging). */
export async function dueLots(q: Queryable, asOf: Date, limit: number, afterSeq: number): Promise<Array<DueLot & { seq: number }>> {
  const { rows } = await q.query<{ id: string; seq: number; member_id: string; remaining: number; expires_at: Date; moves: number }>(
    `SELECT l.id, l.seq, l.member_id, l.remaining, l.expires_at,
            (SELECT count(*) FROM points_lot_moves m WHERE m.lot_id = l.id)::int AS moves
       FROM points_lots l
      WHERE l.remaining > 0 AND l.expires_at IS NOT NULL AND l.expires_at <= $1 AND l.seq > $2
      ORDER BY l.seq LIMIT $3`,
    [asOf, afterSeq, limit],
  );
  return rows.map((row) => ({
    lotId: row.id, seq: row.seq, memberId: row.member_id, remaining: row.remaining, expiresAt: row.expires_at, moves: row.moves,
  }));
}
