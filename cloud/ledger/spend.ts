import type { Queryable } from '../db/database.ts';

/**
 * What the member paid from stored value in stored-value payments (not checkouts, which record their own spend)
 * posted in (from, to], without the refunded ones: the ledger's part of a member's qualifying spend for tiers.
 */
export async function storedValueSpentFen(q: Queryable, memberId: string, from: Date, to: Date): Promise<number> {
  const { rows } = await q.query<{ spend: string | number }>(
    `SELECT coalesce(sum(-p.amount), 0) AS spend FROM ledger_transactions t
       JOIN postings p ON p.tx_id = t.id
       JOIN accounts a ON a.id = p.account_id AND a.member_id = t.member_id
      WHERE t.member_id = $1 AND t.kind = 'stored_value_payment' AND p.asset = 'CNY'
        AND t.created_at > $2 AND t.created_at <= $3
        AND NOT EXISTS (SELECT 1 FROM ledger_refunds r WHERE r.original_tx_id = t.id)`,
    [memberId, from.toISOString(), to.toISOString()],
  );
  return Number(rows[0]!.spend);
}
