import type { Queryable } from '../db/database.ts';
import { storedValueSpentSql } from './kiosk-member-read.ts';

/**
 * What the member paid from stored value in stored-value payments (not checkouts, which record their own spend)
 * posted in (from, to], without the refunded ones: the ledger's part of a member's qualifying spend for tiers.
 * The same query the kiosk's one-statement member read embeds, run on its own.
 */
export async function storedValueSpentFen(q: Queryable, memberId: string, from: Date, to: Date): Promise<number> {
  const { rows } = await q.query<{ spend: string | number }>(`SELECT (${storedValueSpentSql('$1', '$2', '$3')}) AS spend`, [
    memberId,
    from.toISOString(),
    to.toISOString(),
  ]);
  return Number(rows[0]!.spend);
}
