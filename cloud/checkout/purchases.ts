import type { Queryable } from '../db/database.ts';

/** Each member's latest sale that was not refunded, for the members that have one (campaigns' lapsed customers). */
export async function lastPurchases(q: Queryable, memberIds: readonly string[]): Promise<Map<string, Date>> {
  const { rows } = await q.query<{ member_id: string; last: Date | string }>(
    `SELECT member_id, max(occurred_at) AS last FROM checkouts
      WHERE member_id = ANY($1::uuid[]) AND refunded_at IS NULL GROUP BY member_id`,
    [[...memberIds]],
  );
  return new Map(rows.map((row) => [row.member_id, new Date(row.last)]));
}
