import type { Database } from '../db/database.ts';
import type { MemberAccountKind } from './accounts.ts';
import type { Actor, ActorType } from '../kernel/actor.ts';
import { invalid } from '../kernel/input.ts';
import type { TransactionKind } from './posting.ts';
import type { Asset } from './types.ts';
import { memberIdOf, memberNotFound } from './validate.ts';

export const MAX_STATEMENT_LIMIT = 200;

export interface StatementEntry {
  txId: string;
  kind: TransactionKind;
  createdAt: string;
  account: MemberAccountKind;
  asset: Asset;
  /** Signed: positive credits the member, negative debits them. */
  amount: number;
  balanceAfter: number;
  reason: string;
  actor: Actor;
  deviceId?: string;
}

interface EntryRow {
  tx_id: string;
  kind: TransactionKind;
  created_at: Date;
  account: MemberAccountKind;
  asset: Asset;
  amount: number;
  balance_after: number;
  reason: string;
  actor_type: ActorType;
  actor_id: string;
  device_id: string | null;
}

/** The member's most recent postings, newest first, each with the balance it left behind. */
export async function statement(
  db: Database,
  memberId: unknown,
  { limit = 50 }: { limit?: number } = {},
): Promise<{ memberId: string; entries: StatementEntry[] }> {
  const id = memberIdOf(memberId);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_STATEMENT_LIMIT) {
    throw invalid(`limit 须为 1 至 ${MAX_STATEMENT_LIMIT} 之间的整数`, `limit must be a whole number from 1 to ${MAX_STATEMENT_LIMIT}`);
  }
  const member = await db.query('SELECT 1 FROM members WHERE id = $1', [id]);
  if (member.rows.length === 0) throw memberNotFound(id);
  const { rows } = await db.query<EntryRow>(
    `SELECT t.id AS tx_id, t.kind, t.created_at, a.kind AS account, p.asset, p.amount, p.balance_after,
            t.reason, t.actor_type, t.actor_id, t.device_id
       FROM accounts a
       JOIN postings p ON p.account_id = a.id
       JOIN ledger_transactions t ON t.id = p.tx_id
      WHERE a.member_id = $1
      ORDER BY p.id DESC
      LIMIT $2`,
    [id, limit],
  );
  return {
    memberId: id,
    entries: rows.map((row) => ({
      txId: row.tx_id,
      kind: row.kind,
      createdAt: row.created_at.toISOString(),
      account: row.account,
      asset: row.asset,
      amount: row.amount,
      balanceAfter: row.balance_after,
      reason: row.reason,
      actor: { type: row.actor_type, id: row.actor_id },
      ...(row.device_id ? { deviceId: row.device_id } : {}),
    })),
  };
}
