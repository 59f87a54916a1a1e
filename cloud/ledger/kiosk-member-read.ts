/**
 * The ledger's parts of a kiosk's one-statement member read (cloud/sync/card-lookups.ts): SQL fragments over the
 * ledger's own tables that another module splices into its statement, and the reading of the columns they return.
 * A fragment takes SQL expressions for its inputs (a column of the enclosing statement, or a parameter placeholder
 * the composer bound), never values, so the composer owns the parameter list and the whole read stays one round trip.
 */
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { LotBalance } from '../../shared/rules/points-expiry.ts';

/**
 * A member's name, version, home store, join date and three balances, as one row (none for an unknown member) —
 * the member part of readMember (members.ts). Columns: member_name, member_version, member_home_store_id,
 * member_created_at, principal_fen, bonus_fen, points.
 */
export function memberBalancesSql(memberId: string): string {
  return `SELECT m.name AS member_name, m.version AS member_version, m.home_store_id AS member_home_store_id,
                 m.created_at AS member_created_at,
                 max(a.balance) FILTER (WHERE a.kind = 'stored_principal') AS principal_fen,
                 max(a.balance) FILTER (WHERE a.kind = 'stored_bonus') AS bonus_fen,
                 max(a.balance) FILTER (WHERE a.kind = 'points') AS points
            FROM members m JOIN accounts a ON a.member_id = m.id
           WHERE m.id = ${memberId}
           GROUP BY m.id`;
}

/** The columns of memberBalancesSql (null throughout when the member does not exist). */
export interface MemberBalancesRow {
  member_name: string | null;
  member_version: number | null;
  member_home_store_id: string | null;
  member_created_at: Date | string | null;
  principal_fen: number | null;
  bonus_fen: number | null;
  points: number | null;
}

/**
 * The kiosk snapshot of the member in `row` (undefined when the member does not exist), showing `card` — the card
 * the kiosk presented — and `tier`, in the field order of the contract's MemberSnapshot, as readMember + toSnapshot.
 */
export function memberSnapshotOf(row: MemberBalancesRow, memberId: string, card: { cardUid: string; cardNumber?: string }, tier: string): MemberSnapshot | undefined {
  if (row.member_name === null || row.member_version === null) return undefined;
  return {
    memberId,
    displayName: row.member_name,
    tier,
    cardUid: card.cardUid,
    ...(card.cardNumber === undefined ? {} : { cardNumber: card.cardNumber }),
    balances: { principalFen: row.principal_fen ?? 0, bonusFen: row.bonus_fen ?? 0, points: row.points ?? 0 },
    version: row.member_version,
    asOf: new Date().toISOString(),
  };
}

/**
 * A scalar subquery: what the member paid from stored value in stored-value payments posted in (from, to], without
 * the refunded ones, as a fragment (spend.ts runs it on its own).
 */
export function storedValueSpentSql(memberId: string, from: string, to: string): string {
  return `SELECT coalesce(sum(-p.amount), 0) FROM ledger_transactions t
            JOIN postings p ON p.tx_id = t.id
            JOIN accounts a ON a.id = p.account_id AND a.member_id = t.member_id
           WHERE t.member_id = ${memberId} AND t.kind = 'stored_value_payment' AND p.asset = 'CNY'
             AND t.created_at > ${from} AND t.created_at <= ${to}
             AND NOT EXISTS (SELECT 1 FROM ledger_refunds r WHERE r.original_tx_id = t.id)`;
}

/** A scalar subquery: the member's open points lots expiring in (after, until], as a JSON array (read with expiringLotsOf). */
export function expiringLotsSql(memberId: string, after: string, until: string): string {
  return `SELECT coalesce(json_agg(json_build_object('id', id, 'remaining', remaining, 'awardOrder', seq,
                                                     'expiresAt', floor(extract(epoch FROM expires_at) * 1000))
                                   ORDER BY seq), '[]'::json)
            FROM points_lots
           WHERE member_id = ${memberId} AND remaining > 0 AND expires_at > ${after} AND expires_at <= ${until}`;
}

/** The lots of an expiringLotsSql column. */
export function expiringLotsOf(column: unknown): LotBalance[] {
  const lots = (typeof column === 'string' ? JSON.parse(column) : column) as Array<{ id: string; remaining: number; awardOrder: number; expiresAt: number }>;
  return lots.map((lot) => ({ id: lot.id, remaining: Number(lot.remaining), expiresAt: Number(lot.expiresAt), awardOrder: Number(lot.awardOrder) }));
}
