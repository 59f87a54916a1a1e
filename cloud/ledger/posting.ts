import { createHash } from 'node:crypto';
import { maskCardUid } from '../../shared/card.ts';
import { newId } from '../../shared/ids.ts';
import { formatFen } from '../../shared/money.ts';
import type { Database, Queryable } from '../db/database.ts';
import { MEMBER_ACCOUNTS, type MemberAccountKind, type SystemAccount, memberAccountIds, systemAccountId } from './accounts.ts';
import { LedgerError } from './errors.ts';
import { memberNotFound, readMember } from './members.ts';
import type { Actor, Asset, MemberView } from './types.ts';

export const TRANSACTION_KINDS = ['cash_topup', 'stored_value_payment', 'points_adjustment', 'points_redemption'] as const;
export type TransactionKind = (typeof TRANSACTION_KINDS)[number];

/** One side of a transaction: a signed amount on one of the member's accounts or on a system account. */
export interface Leg {
  account: MemberAccountKind | SystemAccount;
  amount: number;
}

/** A validated request to move value; building one is the job of the operations in ledger.ts. */
export interface TransactionRequest {
  kind: TransactionKind;
  idempotencyKey: string;
  memberId: string;
  actor: Actor;
  reason: string;
  cardUid?: string;
  deviceId?: string;
  deviceSeq?: number;
  legs: Leg[];
}

export interface PostedTransaction {
  txId: string;
  /** True when this key was already applied: the first result is returned and nothing is posted. */
  replay: boolean;
  member: MemberView;
}

const assetOf = (account: Leg['account']): Asset =>
  typeof account === 'string' ? MEMBER_ACCOUNTS[account] : account.asset;

/** The code-side half of double entry (the database re-checks at commit): legs sum to zero per asset. */
function assertBalanced(legs: Leg[]): void {
  const totals = new Map<Asset, number>();
  for (const leg of legs) totals.set(assetOf(leg.account), (totals.get(assetOf(leg.account)) ?? 0) + leg.amount);
  for (const [asset, total] of totals) {
    if (total !== 0) throw new Error(`unbalanced ledger transaction: ${asset} legs sum to ${total}`);
  }
}

/** Everything that makes two requests "the same": a replay must match it exactly. */
function hashRequest(request: TransactionRequest): string {
  const canonical = JSON.stringify([
    request.kind,
    request.memberId,
    request.actor.type,
    request.actor.id,
    request.reason,
    request.cardUid ?? null,
    request.deviceId ?? null,
    request.deviceSeq ?? null,
    request.legs.map((leg) => [typeof leg.account === 'string' ? leg.account : leg.account.code, leg.amount]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Applies a transaction exactly once per idempotency key, all in one database transaction:
 *  1. claim the key (unique index, ON CONFLICT DO NOTHING): a concurrent duplicate on PostgreSQL waits
 *     here until the first commits, then finds the key taken and replays it;
 *  2. bump the member's version — this row lock also serialises every change to one member;
 *  3. move each member balance with a guarded UPDATE, in account-id order: the never-negative check is in
 *     the same statement as the change, so no concurrent debit can slip between check and write;
 *  4. write the postings and store the result for future replays.
 * Locks are always taken key → member → member accounts, so two transactions never wait on each other in
 * a cycle. System accounts carry no running balance and are never locked.
 */
export async function postTransaction(db: Database, request: TransactionRequest): Promise<PostedTransaction> {
  assertBalanced(request.legs);
  const payloadHash = hashRequest(request);
  return db.transaction(async (tx) => {
    const txId = newId();
    if (!(await claimKey(tx, txId, request, payloadHash))) return replay(tx, request.idempotencyKey, payloadHash);
    await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [request.memberId]);
    if (request.cardUid) await assertCardOfMember(tx, request.cardUid, request.memberId);
    const postings = await applyLegs(tx, request);
    for (const posting of postings) {
      await tx.query(
        'INSERT INTO postings (tx_id, account_id, asset, amount, balance_after) VALUES ($1, $2, $3, $4, $5)',
        [txId, posting.accountId, posting.asset, posting.amount, posting.balanceAfter],
      );
    }
    const member = (await readMember(tx, request.memberId, request.cardUid))!;
    await tx.query('UPDATE ledger_transactions SET result = $2::jsonb WHERE id = $1', [
      txId,
      JSON.stringify({ txId, member } satisfies StoredResult),
    ]);
    return { txId, replay: false, member };
  });
}

interface StoredResult {
  txId: string;
  member: MemberView;
}

/** True when this call now owns the key; false when an earlier (committed) transaction already used it. */
async function claimKey(tx: Queryable, txId: string, request: TransactionRequest, payloadHash: string): Promise<boolean> {
  try {
    const { rows } = await tx.query(
      `INSERT INTO ledger_transactions
         (id, idempotency_key, payload_hash, kind, member_id, actor_type, actor_id, reason, device_id, device_seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
      [
        txId,
        request.idempotencyKey,
        payloadHash,
        request.kind,
        request.memberId,
        request.actor.type,
        request.actor.id,
        request.reason,
        request.deviceId ?? null,
        request.deviceSeq ?? null,
      ],
    );
    return rows.length === 1;
  } catch (error) {
    // The only foreign key on a ledger transaction is its member.
    if ((error as { code?: string }).code === '23503') throw memberNotFound(request.memberId);
    throw error;
  }
}

async function replay(tx: Queryable, idempotencyKey: string, payloadHash: string): Promise<PostedTransaction> {
  const { rows } = await tx.query<{ payload_hash: string; result: StoredResult }>(
    'SELECT payload_hash, result FROM ledger_transactions WHERE idempotency_key = $1',
    [idempotencyKey],
  );
  const first = rows[0];
  if (!first) throw new Error(`idempotency key ${idempotencyKey} conflicted but its transaction is not visible`);
  if (first.payload_hash !== payloadHash) {
    throw new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      'This request key was already used for a different request, so nothing was done. Start a new request.',
    );
  }
  return { ...first.result, replay: true };
}

async function assertCardOfMember(tx: Queryable, cardUid: string, memberId: string): Promise<void> {
  const { rows } = await tx.query('SELECT 1 FROM cards WHERE uid = $1 AND member_id = $2', [cardUid, memberId]);
  if (rows.length === 0) {
    throw new LedgerError('CARD_NOT_FOUND', `Card ${maskCardUid(cardUid)} is not registered to this member.`);
  }
}

interface Posting {
  accountId: string;
  asset: Asset;
  amount: number;
  /** Set on member accounts only: system accounts keep no running balance. */
  balanceAfter: number | null;
}

async function applyLegs(tx: Queryable, request: TransactionRequest): Promise<Posting[]> {
  const memberAccounts = await memberAccountIds(tx, request.memberId);
  const postings: Posting[] = [];
  const memberPostings: Posting[] = [];
  for (const { account, amount } of request.legs) {
    const onMember = typeof account === 'string';
    const posting: Posting = {
      accountId: onMember ? memberAccounts[account] : await systemAccountId(tx, account),
      asset: assetOf(account),
      amount,
      balanceAfter: null,
    };
    postings.push(posting);
    if (onMember) memberPostings.push(posting);
  }
  memberPostings.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  for (const posting of memberPostings) {
    const { rows } = await tx.query<{ balance: number }>(
      'UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0 RETURNING balance',
      [posting.accountId, posting.amount],
    );
    if (!rows[0]) throw await shortfall(tx, posting);
    posting.balanceAfter = rows[0].balance;
  }
  return postings;
}

async function shortfall(tx: Queryable, posting: Posting): Promise<LedgerError> {
  const { rows } = await tx.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [posting.accountId]);
  const balance = rows[0]?.balance ?? 0;
  const needed = -posting.amount;
  return posting.asset === 'CNY'
    ? new LedgerError(
        'INSUFFICIENT_BALANCE',
        `Not enough stored value: the balance is ${formatFen(balance)} but ${formatFen(needed)} is needed.`,
      )
    : new LedgerError('INSUFFICIENT_POINTS', `Not enough points: the member has ${balance} but ${needed} are needed.`);
}
