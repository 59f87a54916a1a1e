import { createHash } from 'node:crypto';
import { newId } from '../../shared/ids.ts';
import { formatFen } from '../../shared/money.ts';
import { InsufficientStoredValueError, type SpendingOrder, splitStoredValueSpend } from '../../shared/rules/stored-value.ts';
import { admitPresentedCard } from '../cards/card-guard.ts';
import type { Database, Queryable } from '../db/database.ts';
import { MEMBER_ACCOUNTS, type MemberAccountKind, type SystemAccount, memberAccountIds, systemAccountId } from './accounts.ts';
import { LedgerError } from './errors.ts';
import { memberNotFound, readMember } from './members.ts';
import { assertLotsMatchBalance, consumeLots, openLot } from './points-lots.ts';
import type { Actor, Asset, MemberView } from './types.ts';

export const TRANSACTION_KINDS = [
  'cash_topup',
  'stored_value_payment',
  'points_adjustment',
  'points_redemption',
  /** Points given by a rule rather than a purchase: daily check-in, referral reward, top-up bonus points. */
  'points_award',
  'points_expiry',
  /** A POS sale: stored value and/or points spent, points earned, in one transaction. */
  'checkout',
  /** The exact reverse of an earlier transaction (refund of a top-up, payment, checkout or redemption). */
  'refund',
  'card_fee',
] as const;
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
  /** The store where it happened (cross-store settlement groups by it). */
  storeId?: string;
  /**
   * The legs, or a builder that computes them from the member's balances read under the member lock
   * (see LegsBuilder): use a builder whenever the split depends on balances, e.g. a stored-value payment
   * split principal/bonus by a spending order.
   */
  legs: Leg[] | LegsBuilder;
  /**
   * What the caller asked for beyond the legs (amount and spending order, the bonus rule that applied, the
   * transaction refunded): covered by the idempotency hash, so a replay that asks for something else is a
   * conflict. Required with a LegsBuilder, whose legs depend on the balances at the time.
   */
  intent?: unknown;
  /**
   * Points lots (cloud/ledger/points-lots.ts). By default each positive points leg opens a lot expiring at
   * `expiresAt` (absent or null = never) and each negative points leg takes from the member's lots
   * soonest-expiring first. 'custom': the request's effects move the lots themselves (refunds, the expiry
   * job). Either way the transaction fails unless the member's lots end up holding exactly their balance.
   */
  pointsLots?: { expiresAt?: Date | null } | 'custom';
  /**
   * Further writes that must commit or roll back with the postings (mark a coupon used, take stock, write a
   * voucher). Runs inside the same database transaction, after the legs are applied; throwing a LedgerError
   * here refuses the whole request. Not run on a replay.
   */
  effects?: (tx: Queryable, txId: string) => Promise<void>;
}

/** What a LegsBuilder sees: the member's balances after the member lock was taken. */
export interface LockedBalances {
  principalFen: number;
  bonusFen: number;
  points: number;
}

/**
 * Legs computed inside the transaction from balances no concurrent request can change any more (every
 * balance change takes the member lock first). May throw a LedgerError to refuse; may read with `tx` but
 * must not write (writes belong in `effects`).
 */
export type LegsBuilder = (balances: LockedBalances, tx: Queryable) => Leg[] | Promise<Leg[]>;

/**
 * The legs of a stored-value spend of `amountFen`, split between principal and bonus by `order` from the
 * locked balances, paid to `contra` (storedValueSpent, feesReceived, …). Use it in a LegsBuilder:
 *   { legs: (balances) => storedValueSpendLegs(order, balances, amountFen, contra), intent: { amountFen, order } }
 * and add further legs (points spent or earned) to the array it returns.
 */
export function storedValueSpendLegs(order: SpendingOrder, balances: LockedBalances, amountFen: number, contra: SystemAccount): Leg[] {
  try {
    const split = splitStoredValueSpend(order, balances, amountFen);
    return [
      { account: 'stored_principal', amount: -split.principalFen },
      { account: 'stored_bonus', amount: -split.bonusFen },
      { account: contra, amount: amountFen },
    ];
  } catch (error) {
    if (!(error instanceof InsufficientStoredValueError)) throw error;
    throw new LedgerError(
      'INSUFFICIENT_BALANCE',
      `Not enough stored value: the balance is ${formatFen(error.availableFen)} but ${formatFen(error.neededFen)} is needed.`,
    );
  }
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
function assertBalanced(legs: readonly Leg[]): void {
  if (legs.length === 0) throw new Error('a ledger transaction needs at least one non-zero leg');
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
    request.storeId ?? null,
    Array.isArray(request.legs)
      ? request.legs.map((leg) => [typeof leg.account === 'string' ? leg.account : leg.account.code, leg.amount])
      : 'built under lock',
    request.intent ?? null,
    // Not the lots' expiry: it is derived from the instant of the request, and a retry a moment later must still replay.
    request.pointsLots === 'custom',
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Applies a transaction exactly once per idempotency key, all in one database transaction:
 *  1. claim the key (unique index, ON CONFLICT DO NOTHING): a concurrent duplicate on PostgreSQL waits
 *     here until the first commits, then finds the key taken and replays it;
 *  2. bump the member's version — this row lock also serialises every change to one member; a LegsBuilder
 *     runs only now, on balances no one else can change before commit;
 *  3. move each member balance with a guarded UPDATE, in account-id order: the never-negative check is in
 *     the same statement as the change, so no concurrent debit can slip between check and write;
 *  4. write the postings, move the points lots (or let effects do it), run effects, check the lots hold
 *     exactly the points balance, and store the result for future replays.
 * Locks are always taken key → member → member accounts, so two transactions never wait on each other in
 * a cycle. System accounts carry no running balance and are never locked.
 */
export async function postTransaction(db: Database, request: TransactionRequest): Promise<PostedTransaction> {
  if (Array.isArray(request.legs)) assertBalanced(nonZero(request.legs));
  else if (request.intent === undefined) throw new Error('a transaction with a legs builder must state its intent');
  const payloadHash = hashRequest(request);
  return db.transaction(async (tx) => {
    const txId = newId();
    if (!(await claimKey(tx, txId, request, payloadHash))) return replay(tx, request.idempotencyKey, payloadHash);
    await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [request.memberId]);
    const legs = nonZero(Array.isArray(request.legs) ? request.legs : await request.legs(await lockedBalances(tx, request.memberId), tx));
    assertBalanced(legs);
    // A lost, frozen, cancelled or replaced card may not take value; a card's daily limit (cloud/cards).
    if (request.cardUid) await admitPresentedCard(tx, { txId, cardUid: request.cardUid, memberId: request.memberId, storeId: request.storeId, legs });
    const postings = await applyLegs(tx, request.memberId, legs);
    for (const posting of postings) {
      await tx.query(
        'INSERT INTO postings (tx_id, account_id, asset, amount, balance_after) VALUES ($1, $2, $3, $4, $5)',
        [txId, posting.accountId, posting.asset, posting.amount, posting.balanceAfter],
      );
    }
    const pointsLegs = legs.filter((leg) => leg.account === 'points');
    if (request.pointsLots !== 'custom') await applyPointsLots(tx, request.memberId, txId, pointsLegs, request.pointsLots?.expiresAt ?? null);
    if (request.effects) await request.effects(tx, txId);
    if (pointsLegs.length > 0 || request.pointsLots === 'custom') await assertLotsMatchBalance(tx, request.memberId);
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
         (id, idempotency_key, payload_hash, kind, member_id, actor_type, actor_id, reason, device_id, device_seq, store_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
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
        request.storeId ?? null,
      ],
    );
    return rows.length === 1;
  } catch (error) {
    // The foreign keys of a ledger transaction are its member and its store.
    if ((error as { code?: string }).code === '23503') {
      if (/store/.test((error as { constraint?: string }).constraint ?? '')) {
        throw new LedgerError('STORE_NOT_FOUND', `No store has the id ${request.storeId}.`);
      }
      throw memberNotFound(request.memberId);
    }
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

interface Posting {
  accountId: string;
  asset: Asset;
  amount: number;
  /** Set on member accounts only: system accounts keep no running balance. */
  balanceAfter: number | null;
}

async function applyLegs(tx: Queryable, memberId: string, legs: readonly Leg[]): Promise<Posting[]> {
  const memberAccounts = await memberAccountIds(tx, memberId);
  const postings: Posting[] = [];
  const memberPostings: Posting[] = [];
  for (const { account, amount } of legs) {
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

/** A zero leg moves nothing (and postings refuse amount 0): builders may return them, they are dropped here. */
function nonZero(legs: readonly Leg[]): Leg[] {
  return legs.filter((leg) => leg.amount !== 0);
}

/** Read after the member lock (postTransaction step 2), so the balances cannot change until commit. */
async function lockedBalances(tx: Queryable, memberId: string): Promise<LockedBalances> {
  const { rows } = await tx.query<{ kind: MemberAccountKind; balance: number }>(
    'SELECT kind, balance FROM accounts WHERE member_id = $1',
    [memberId],
  );
  const of = (kind: MemberAccountKind) => rows.find((row) => row.kind === kind)?.balance ?? 0;
  return { principalFen: of('stored_principal'), bonusFen: of('stored_bonus'), points: of('points') };
}

/** Default lot handling: debits first (points spent never come from points earned in the same transaction). */
async function applyPointsLots(tx: Queryable, memberId: string, txId: string, legs: readonly Leg[], expiresAt: Date | null): Promise<void> {
  for (const leg of legs) if (leg.amount < 0) await consumeLots(tx, memberId, txId, -leg.amount);
  for (const leg of legs) if (leg.amount > 0) await openLot(tx, memberId, txId, leg.amount, expiresAt);
}
