import { createHash } from 'node:crypto';
import { newId } from '../../shared/ids.ts';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, idempotencyKeyOf, invalid, textOf } from '../kernel/input.ts';
import { memberAccountIds, systemAccountId } from './accounts.ts';
import { type Leg, type LockedBalances, assetOf, insufficientBalance, insufficientPoints } from './legs.ts';
import { assertLotsMatchBalance, consumeLots, openLot } from './points-lots.ts';
import { storeNotFound } from '../org/index.ts';
import type { LedgerPorts } from './ports.ts';
import type { Asset, MemberView } from './types.ts';
import { cardUidOf, deviceOf, memberIdOf, memberNotFound } from './validate.ts';

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

/** A module owns the transactions it posts: a refund of one is dispatched to its reverser (refunds.ts). */
const OWNER = /^[a-z][a-z-]{1,39}$/;

/**
 * Legs computed inside the transaction from balances no concurrent request can change any more (every balance
 * change takes the member lock first), with whatever the computation found that the effects need (`context`).
 * May throw a HubError to refuse; may read with `tx` but must not write (writes belong in `effects`).
 */
export type LegsBuilder<C> = (balances: LockedBalances, tx: Queryable) => { legs: Leg[]; context: C } | Promise<{ legs: Leg[]; context: C }>;

/** A request to move value; validated here, whoever sends it. */
export interface TransactionRequest<C = undefined, O = undefined> {
  kind: TransactionKind;
  /** The module that posts it and reverses it on a refund. */
  owner: string;
  idempotencyKey: string;
  memberId: string;
  actor: Actor;
  reason: string;
  /** The card presented: it must be the member's, and may it take value (the cards module decides). */
  cardUid?: string;
  /** Set together when a kiosk recorded the change. */
  deviceId?: string;
  deviceSeq?: number;
  /** The store where it happened (cross-store settlement groups by it). */
  storeId?: string;
  /** The legs, or a builder that computes them from the member's balances read under the member lock. */
  legs: Leg[] | LegsBuilder<C>;
  /**
   * What the caller asked for beyond the legs (amount and spending order, the bonus rule that applied, the
   * transaction refunded): part of the idempotency fingerprint, so a replay that asks for something else is a
   * conflict. Required with a LegsBuilder, whose legs depend on the balances at the time.
   */
  intent?: unknown;
  /**
   * Points lots (points-lots.ts). By default each positive points leg opens a lot expiring at `expiresAt`
   * (absent or null = never) and each negative points leg takes from the member's lots soonest-expiring first.
   * 'custom': the effects move the lots themselves (refunds, the expiry job). Either way the transaction fails
   * unless the member's lots end up holding exactly their balance.
   */
  pointsLots?: { expiresAt?: Date | null } | 'custom';
  /**
   * Further writes that commit or roll back with the postings (mark a coupon used, take stock, write a voucher),
   * run after the legs are applied, with the builder's context; their result is kept with the transaction and
   * returned to replays. Throwing a HubError refuses the whole request. Not run on a replay.
   */
  effects?: (tx: Queryable, posted: { txId: string; context: C }) => Promise<O>;
  /**
   * What makes a replay "the same request", when the owner decides it (a checkout compares its basket, not the
   * legs it happened to post); default the request's own fingerprint (fingerprintOf).
   */
  fingerprint?: string;
}

export interface PostedTransaction<O = undefined> {
  txId: string;
  /** True when this key was already applied: the first result is returned and nothing is posted. */
  replay: boolean;
  member: MemberView;
  /** What the effects returned (a voucher, a checkout id…); undefined without effects. */
  outcome: O;
}

/** Checks a request before any SQL: a bad one is INVALID_INPUT (or the field's own code) and changes nothing. */
export function validRequest<C, O>(request: TransactionRequest<C, O>): TransactionRequest<C, O> {
  if (!OWNER.test(request.owner)) throw new Error(`owner "${request.owner}" is not a module name`);
  if (!Array.isArray(request.legs) && request.intent === undefined) throw new Error('a transaction with a legs builder must state its intent');
  if (Array.isArray(request.legs)) assertBalanced(nonZero(request.legs));
  return {
    ...request,
    idempotencyKey: idempotencyKeyOf(request.idempotencyKey),
    memberId: memberIdOf(request.memberId),
    actor: actorOf(request.actor),
    reason: textOf(request.reason, 'reason', 200),
    ...(request.cardUid === undefined ? {} : { cardUid: cardUidOf(request.cardUid) }),
    ...deviceOf(request.deviceId, request.deviceSeq),
    ...(request.storeId === undefined ? {} : { storeId: textOf(request.storeId, 'storeId', 40) }),
  };
}

/** The code-side half of double entry (the database re-checks at commit): legs sum to zero per asset. */
export function assertBalanced(legs: readonly Leg[]): void {
  if (legs.length === 0) throw new Error('a ledger transaction needs at least one non-zero leg');
  const totals = new Map<Asset, number>();
  for (const leg of legs) {
    if (!Number.isSafeInteger(leg.amount)) throw invalid('金额须为整数', `a leg amount must be a whole number, got ${leg.amount}`);
    totals.set(assetOf(leg.account), (totals.get(assetOf(leg.account)) ?? 0) + leg.amount);
  }
  for (const [asset, total] of totals) {
    if (total !== 0) throw new Error(`unbalanced ledger transaction: ${asset} legs sum to ${total}`);
  }
}

/**
 * Everything that makes two requests "the same": a replay must match it exactly. Unchanged since the first
 * version of the ledger, so that a key used before an upgrade still replays after it.
 */
export function fingerprintOf<C, O>(request: TransactionRequest<C, O>): string {
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

/** What a posting stores for its replays (in its idempotency key's result). */
export interface StoredPosting<O> {
  txId: string;
  member: MemberView;
  outcome?: O;
}

/**
 * Posts one validated transaction inside `tx`, whose idempotency key the caller has claimed (ledger.ts post()
 * and once()):
 *  1. record the transaction, then bump the member's version — this row lock serialises every change to one
 *     member; a LegsBuilder runs only now, on balances no one else can change before commit;
 *  2. let the cards module admit a presented card;
 *  3. move each member balance with a guarded UPDATE, in account-id order: the never-negative check is in the
 *     same statement as the change, so no concurrent debit can slip between check and write;
 *  4. write the postings, move the points lots (or let effects do it), run effects, check the lots hold exactly
 *     the points balance.
 * Locks are always taken key → member → member accounts, so two transactions never wait on each other in a
 * cycle. System accounts carry no running balance and are never locked.
 */
export async function postWithin<C, O>(
  tx: Queryable,
  ports: LedgerPorts,
  readMember: (q: Queryable, memberId: string, usedCardUid?: string) => Promise<MemberView | undefined>,
  request: TransactionRequest<C, O>,
): Promise<StoredPosting<O>> {
  const txId = newId();
  await insertTransaction(tx, txId, request);
  await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [request.memberId]);
  const built = Array.isArray(request.legs)
    ? { legs: request.legs, context: undefined as C }
    : await request.legs(await lockedBalances(tx, request.memberId), tx);
  const legs = nonZero(built.legs);
  assertBalanced(legs);
  if (request.cardUid) {
    const [refusal] = await ports.cards.admit(tx, [{ txId, cardUid: request.cardUid, memberId: request.memberId, ...(request.storeId ? { storeId: request.storeId } : {}), legs }]);
    if (refusal) throw refusal;
  }
  await insertPostings(
    tx,
    (await applyLegs(tx, request.memberId, legs)).map((posting) => ({ txId, ...posting })),
  );
  const pointsLegs = legs.filter((leg) => leg.account === 'points');
  if (request.pointsLots !== 'custom') await applyPointsLots(tx, request.memberId, txId, pointsLegs, request.pointsLots?.expiresAt ?? null);
  const outcome = request.effects ? await request.effects(tx, { txId, context: built.context }) : undefined;
  if (pointsLegs.length > 0 || request.pointsLots === 'custom') await assertLotsMatchBalance(tx, request.memberId);
  const member = (await readMember(tx, request.memberId, request.cardUid))!;
  return { txId, member, ...(outcome === undefined ? {} : { outcome }) };
}

async function insertTransaction<C, O>(tx: Queryable, txId: string, request: TransactionRequest<C, O>): Promise<void> {
  try {
    await insertTransactions(tx, [{ txId, request }]);
  } catch (error) {
    // The foreign keys of a ledger transaction are its member and its store.
    if ((error as { code?: string }).code === '23503') {
      if (/store/.test((error as { constraint?: string }).constraint ?? '')) throw storeNotFound(request.storeId!);
      throw memberNotFound(request.memberId);
    }
    throw error;
  }
}

/** What a ledger_transactions row records of its request. */
type RecordedRequest = Pick<TransactionRequest, 'idempotencyKey' | 'kind' | 'owner' | 'memberId' | 'actor' | 'reason' | 'deviceId' | 'deviceSeq' | 'storeId'>;

/** Records ledger transactions in one statement (their members and stores must exist). */
export async function insertTransactions(tx: Queryable, rows: ReadonlyArray<{ txId: string; request: RecordedRequest }>): Promise<void> {
  const column = <T>(pick: (request: RecordedRequest) => T) => rows.map((row) => pick(row.request));
  await tx.query(
    `INSERT INTO ledger_transactions
       (id, idempotency_key, kind, owner, member_id, actor_type, actor_id, reason, device_id, device_seq, store_id)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[])`,
    [
      rows.map((row) => row.txId),
      column((r) => r.idempotencyKey),
      column((r) => r.kind),
      column((r) => r.owner),
      column((r) => r.memberId),
      column((r) => r.actor.type),
      column((r) => r.actor.id),
      column((r) => r.reason),
      column((r) => r.deviceId ?? null),
      column((r) => r.deviceSeq ?? null),
      column((r) => r.storeId ?? null),
    ],
  );
}

export interface Posting {
  accountId: string;
  asset: Asset;
  amount: number;
  /** Set on member accounts only: system accounts keep no running balance. */
  balanceAfter: number | null;
}

/**
 * Writes postings in one statement. The database checks after it that every transaction it touched balances
 * (migration 017), so all of a transaction's postings must come in the same call.
 */
export async function insertPostings(tx: Queryable, postings: ReadonlyArray<Posting & { txId: string }>): Promise<void> {
  await tx.query(
    `INSERT INTO postings (tx_id, account_id, asset, amount, balance_after)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[])`,
    [postings.map((p) => p.txId), postings.map((p) => p.accountId), postings.map((p) => p.asset), postings.map((p) => p.amount), postings.map((p) => p.balanceAfter)],
  );
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

async function shortfall(tx: Queryable, posting: Posting) {
  const { rows } = await tx.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = $1', [posting.accountId]);
  const balance = rows[0]?.balance ?? 0;
  return posting.asset === 'CNY' ? insufficientBalance(balance, -posting.amount) : insufficientPoints(balance, -posting.amount);
}

/** A zero leg moves nothing (and postings refuse amount 0): builders may return them, they are dropped here. */
export function nonZero(legs: readonly Leg[]): Leg[] {
  return legs.filter((leg) => leg.amount !== 0);
}

/** Read after the member lock (the version bump), so the balances cannot change until commit. */
export async function lockedBalances(tx: Queryable, memberId: string): Promise<LockedBalances> {
  const { rows } = await tx.query<{ kind: string; balance: number }>('SELECT kind, balance FROM accounts WHERE member_id = $1', [memberId]);
  const of = (kind: string) => rows.find((row) => row.kind === kind)?.balance ?? 0;
  return { principalFen: of('stored_principal'), bonusFen: of('stored_bonus'), points: of('points') };
}

/** Default lot handling: debits first (points spent never come from points earned in the same transaction). */
async function applyPointsLots(tx: Queryable, memberId: string, txId: string, legs: readonly Leg[], expiresAt: Date | null): Promise<void> {
  for (const leg of legs) if (leg.amount < 0) await consumeLots(tx, memberId, txId, -leg.amount);
  for (const leg of legs) if (leg.amount > 0) await openLot(tx, memberId, txId, leg.amount, expiresAt);
}
