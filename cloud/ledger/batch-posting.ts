import { newId } from '../../shared/ids.ts';
import type { Queryable } from '../db/database.ts';
import { refusalOf } from '../kernel/errors.ts';
import { MEMBER_ACCOUNTS, type MemberAccountKind, systemAccountIds } from './accounts.ts';
import { type UsedKey, replayOf, usedKeys } from './idempotency.ts';
import { type Leg, assetOf } from './legs.ts';
import { assertLotsMatchBalances, openLots } from './points-lots.ts';
import { readMembers } from './members.ts';
import type { LedgerPorts } from './ports.ts';
import {
  type Posting,
  type PostedTransaction,
  type StoredPosting,
  type TransactionRequest,
  assertBalanced,
  fingerprintOf,
  insertPostings,
  insertTransactions,
  nonZero,
  validRequest,
} from './posting.ts';
import type { MemberView } from './types.ts';
import { memberNotFound } from './validate.ts';

/**
 * A credit to members: fixed legs, none taking anything from the member (so no balance can go short and a card
 * is only checked, never charged), the default points lots, no effects. Cash top-ups are.
 */
export type CreditRequest = Omit<TransactionRequest, 'legs' | 'effects' | 'pointsLots'> & {
  legs: Leg[];
  pointsLots?: { expiresAt?: Date | null };
};

export type BatchPostingOutcome = { status: 'posted'; posted: PostedTransaction } | { status: 'refused'; error: unknown } | { status: 'deferred' };

interface Fresh {
  index: number;
  request: CreditRequest;
  legs: Leg[];
  txId: string;
  fingerprint: string;
}

/**
 * Posts a batch of credits inside `tx` with a handful of statements for all of them, each still exactly once per
 * idempotency key and with the same outcome as posting them one after the other (postWithin): answer replays and
 * conflicts from the keys already used, lock the members (in id order), check the cards, and only then write —
 * transactions, versions, balances, postings, lots and finally the keys with their results, each in one statement.
 * A refusal is found before anything of its transaction is written, so it never fails the batch. A key that comes
 * twice in the batch is deferred: the second use is decided in the next batch, as a replay.
 *
 * Unlike onceWithin, a key is written once, with its result, at the end (no claim row to update: the batch is the
 * hub's hot path). Its uniqueness still decides: a key another request used in the meantime (it was not visible to
 * the first read) makes the key's INSERT, or the ledger transaction's, fail the whole batch, which the caller then
 * posts one request at a time — where that key replays.
 */
export async function postCreditBatch(tx: Queryable, ports: LedgerPorts, requests: readonly CreditRequest[]): Promise<BatchPostingOutcome[]> {
  const outcomes: BatchPostingOutcome[] = new Array(requests.length);
  const candidates: Fresh[] = [];
  const keysInBatch = new Set<string>();
  requests.forEach((raw, index) => {
    try {
      const request = validRequest(raw) as CreditRequest;
      const legs = nonZero(request.legs);
      assertBalanced(legs);
      if (legs.some((leg) => typeof leg.account === 'string' && leg.amount < 0)) throw new Error('postCreditBatch posts credits only');
      if (keysInBatch.has(request.idempotencyKey)) return void (outcomes[index] = { status: 'deferred' });
      keysInBatch.add(request.idempotencyKey);
      candidates.push({ index, request, legs, txId: newId(), fingerprint: request.fingerprint ?? fingerprintOf(request) });
    } catch (error) {
      if (!refusalOf(error)) throw error;
      outcomes[index] = { status: 'refused', error };
    }
  });
  if (candidates.length === 0) return outcomes;

  const used = await usedKeys(tx, candidates.map((c) => c.request.idempotencyKey));
  const fresh: Fresh[] = [];
  for (const candidate of candidates) {
    const earlier = used.get(candidate.request.idempotencyKey);
    if (earlier) outcomes[candidate.index] = replayed(candidate, earlier);
    else fresh.push(candidate);
  }
  const { refused, versions } = await refusals(tx, ports, fresh);
  for (const [candidate, error] of refused) outcomes[candidate.index] = { status: 'refused', error };
  const going = fresh.filter((candidate) => !refused.has(candidate));
  if (going.length === 0) return outcomes;

  await insertTransactions(tx, going.map(({ txId, request }) => ({ txId, request })));
  const counts = countBy(going.map((c) => c.request.memberId));
  await tx.query(
    `UPDATE members SET version = members.version + c.n, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS c(id, n) WHERE members.id = c.id`,
    [[...counts.keys()], [...counts.values()]],
  );
  const moved = await writeLegs(tx, going);
  const pointsCredits = going.flatMap(({ request, txId, legs }) =>
    legs.filter((leg) => leg.account === 'points').map((leg) => ({ memberId: request.memberId, txId, points: leg.amount, expiresAt: request.pointsLots?.expiresAt ?? null })),
  );
  if (pointsCredits.length > 0) {
    await openLots(tx, pointsCredits);
    await assertLotsMatchBalances(tx, [...new Set(pointsCredits.map((lot) => lot.memberId))]);
  }

  // Each transaction's member as right after it: every member and card shown read together (as the batch leaves
  // them), then each transaction's own balances and version.
  const viewKeyOf = ({ memberId, cardUid }: CreditRequest) => `${memberId}\n${cardUid ?? ''}`;
  const wanted = new Map(going.map(({ request }) => [viewKeyOf(request), { memberId: request.memberId, ...(request.cardUid ? { usedCardUid: request.cardUid } : {}) }]));
  const read = await readMembers(tx, ports, [...wanted.values()]);
  const views = new Map([...wanted.keys()].map((key, index) => [key, read[index]!]));
  const stored: Array<{ candidate: Fresh; result: StoredPosting<undefined> }> = [];
  const nth = new Map<string, number>();
  for (const candidate of going) {
    const { memberId } = candidate.request;
    const k = (nth.get(memberId) ?? 0) + 1;
    nth.set(memberId, k);
    // An account the batch moved has its balance right after this transaction, the others stay as the batch leaves them.
    const view = views.get(viewKeyOf(candidate.request))!;
    const own = moved.get(candidate)!;
    const balances = { principalFen: own.stored_principal ?? view.balances.principalFen, bonusFen: own.stored_bonus ?? view.balances.bonusFen, points: own.points ?? view.balances.points };
    const member: MemberView = { ...view, balances, version: versions.get(memberId)! + k };
    stored.push({ candidate, result: { txId: candidate.txId, member } });
    outcomes[candidate.index] = { status: 'posted', posted: { txId: candidate.txId, replay: false, member, outcome: undefined } };
  }
  await writeKeys(tx, stored);
  return outcomes;
}

/**
 * Writes each posted request's key with its result, in key order (so two batches never wait on each other in a
 * cycle). A key that is taken already was used by a request this batch could not see: the batch fails.
 */
async function writeKeys(tx: Queryable, stored: ReadonlyArray<{ candidate: Fresh; result: StoredPosting<undefined> }>): Promise<void> {
  const sorted = [...stored].sort((a, b) => (a.candidate.request.idempotencyKey < b.candidate.request.idempotencyKey ? -1 : 1));
  const { rows } = await tx.query(
    `INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[]) ON CONFLICT (key) DO NOTHING RETURNING key`,
    [
      sorted.map((s) => s.candidate.request.idempotencyKey),
      sorted.map((s) => s.candidate.request.owner),
      sorted.map((s) => s.candidate.fingerprint),
      sorted.map((s) => s.candidate.request.memberId),
      sorted.map((s) => JSON.stringify(s.result)),
    ],
  );
  if (rows.length !== sorted.length) throw new Error('an idempotency key of the batch was used meanwhile by another request; post the batch one request at a time');
}

/** A key used before: the first result (a replay), or IDEMPOTENCY_CONFLICT when it was used for something else. */
function replayed(candidate: Fresh, used: UsedKey): BatchPostingOutcome {
  const { request, fingerprint } = candidate;
  try {
    const first = replayOf<StoredPosting<undefined>>(used, { key: request.idempotencyKey, owner: request.owner, fingerprint })!;
    return { status: 'posted', posted: { txId: first.txId, replay: true, member: first.member, outcome: undefined } };
  } catch (error) {
    if (!refusalOf(error)) throw error;
    return { status: 'refused', error };
  }
}

/**
 * Takes the member locks (in id order), with each member's version before this batch, and finds what would refuse
 * a transaction: an unknown member, a card the cards module does not admit. Nothing is written here (a credit's
 * card is only checked).
 */
async function refusals(tx: Queryable, ports: LedgerPorts, fresh: readonly Fresh[]): Promise<{ refused: Map<Fresh, unknown>; versions: Map<string, number> }> {
  const refused = new Map<Fresh, unknown>();
  if (fresh.length === 0) return { refused, versions: new Map() };
  const { rows } = await tx.query<{ id: string; version: number }>('SELECT id, version FROM members WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [
    [...new Set(fresh.map((c) => c.request.memberId))],
  ]);
  const versions = new Map(rows.map((row) => [row.id, row.version]));
  // A credit takes nothing, so the cards module only checks the card against the member: once per card and member,
  // all in one call.
  const presentedKey = ({ request }: Fresh) => `${request.memberId}\n${request.cardUid ?? ''}\n${request.storeId ?? ''}`;
  const toAdmit = new Map<string, Fresh>();
  for (const candidate of fresh) {
    if (!versions.has(candidate.request.memberId)) refused.set(candidate, memberNotFound(candidate.request.memberId));
    else if (candidate.request.cardUid && !toAdmit.has(presentedKey(candidate))) toAdmit.set(presentedKey(candidate), candidate);
  }
  const cards = [...toAdmit.values()].map(({ txId, legs, request: { cardUid, memberId, storeId } }) => ({ txId, cardUid: cardUid!, memberId, ...(storeId ? { storeId } : {}), legs }));
  const answers = await ports.cards.admit(tx, cards);
  const cardRefusals = new Map([...toAdmit.keys()].map((key, index) => [key, answers[index]]));
  for (const candidate of fresh) {
    const refusal = cardRefusals.get(presentedKey(candidate));
    if (refusal) refused.set(candidate, refusal);
  }
  return { refused, versions };
}

/** Per transaction, the balance right after it of each of its member's accounts that the batch moved. */
type MovedBalances = Map<Fresh, Partial<Record<MemberAccountKind, number>>>;
const accountKeyOf = (memberId: string, kind: MemberAccountKind) => `${memberId}\n${kind}`;

/**
 * Moves the member balances (one guarded UPDATE for all accounts, under the member locks taken first, so in any
 * order: a credit cannot go short, the guard only makes sure) and writes every posting with the running balance
 * right after it, counted up from the balance before the batch (the one the UPDATE returns, less what it moved).
 */
async function writeLegs(tx: Queryable, going: readonly Fresh[]): Promise<MovedBalances> {
  const deltas = new Map<string, { memberId: string; kind: MemberAccountKind; delta: number }>();
  for (const { request, legs } of going) {
    for (const { account, amount } of legs) {
      if (typeof account !== 'string') continue;
      const key = accountKeyOf(request.memberId, account);
      const entry = deltas.get(key) ?? { memberId: request.memberId, kind: account, delta: 0 };
      entry.delta += amount;
      deltas.set(key, entry);
    }
  }
  const moves = [...deltas.values()];
  const { rows } = await tx.query<{ id: string; member_id: string; kind: MemberAccountKind; balance: number }>(
    `UPDATE accounts SET balance = accounts.balance + d.delta FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS d(member_id, kind, delta)
      WHERE accounts.member_id = d.member_id AND accounts.kind = d.kind AND accounts.balance + d.delta >= 0
      RETURNING accounts.id, accounts.member_id, accounts.kind, accounts.balance`,
    [moves.map((m) => m.memberId), moves.map((m) => m.kind), moves.map((m) => m.delta)],
  );
  if (rows.length !== moves.length) throw new Error('a batch of credits would have taken a member balance below zero');
  const idOf = new Map(rows.map((row) => [accountKeyOf(row.member_id, row.kind), row.id]));
  const running = new Map(rows.map((row) => [accountKeyOf(row.member_id, row.kind), row.balance - deltas.get(accountKeyOf(row.member_id, row.kind))!.delta]));
  const systemIds = await systemAccountIds(
    tx,
    going.flatMap((c) => c.legs.flatMap((leg) => (typeof leg.account === 'string' ? [] : [leg.account]))),
  );
  const postings: Array<Posting & { txId: string }> = [];
  const after: MovedBalances = new Map();
  for (const candidate of going) {
    for (const { account, amount } of candidate.legs) {
      if (typeof account === 'string') {
        const key = accountKeyOf(candidate.request.memberId, account);
        running.set(key, running.get(key)! + amount);
        postings.push({ txId: candidate.txId, accountId: idOf.get(key)!, asset: assetOf(account), amount, balanceAfter: running.get(key)! });
      } else {
        postings.push({ txId: candidate.txId, accountId: systemIds.get(account.code)!, asset: account.asset, amount, balanceAfter: null });
      }
    }
    // Every account of the member the batch moves, as it stands right after this transaction.
    const balances: Partial<Record<MemberAccountKind, number>> = {};
    for (const kind of Object.keys(MEMBER_ACCOUNTS) as MemberAccountKind[]) {
      const balance = running.get(accountKeyOf(candidate.request.memberId, kind));
      if (balance !== undefined) balances[kind] = balance;
    }
    after.set(candidate, balances);
  }
  await insertPostings(tx, postings);
  return after;
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}
