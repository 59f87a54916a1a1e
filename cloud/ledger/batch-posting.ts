import { newId } from '../../shared/ids.ts';
import type { Queryable } from '../db/database.ts';
import { refusalOf } from '../kernel/errors.ts';
import { type MemberAccountKind, systemAccountIds } from './accounts.ts';
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
 * idempotency key and with the same outcome as posting them one after the other (postWithin): claim the keys,
 * answer replays and conflicts from the keys already used, lock the members (in id order), check the cards, and
 * only then write — transactions, versions, balances, postings and lots, each in one statement. A refusal is
 * found before anything of its transaction is written (its key claim is taken back), so it never fails the batch.
 * A key that comes twice in the batch is deferred: the second use is decided in the next batch, as a replay.
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

  const claimed = await claimKeys(tx, candidates);
  const used = await usedKeys(tx, candidates.filter((c) => !claimed.has(c.request.idempotencyKey)).map((c) => c.request.idempotencyKey));
  const fresh: Fresh[] = [];
  for (const candidate of candidates) {
    if (claimed.has(candidate.request.idempotencyKey)) fresh.push(candidate);
    else outcomes[candidate.index] = replayed(candidate, used.get(candidate.request.idempotencyKey));
  }
  const { refused, versions } = await refusals(tx, ports, fresh);
  for (const [candidate, error] of refused) outcomes[candidate.index] = { status: 'refused', error };
  if (refused.size > 0) {
    await tx.query('DELETE FROM idempotency_keys WHERE key = ANY($1::text[])', [[...refused.keys()].map((c) => c.request.idempotencyKey)]);
  }
  const going = fresh.filter((candidate) => !refused.has(candidate));
  if (going.length === 0) return outcomes;

  await insertTransactions(tx, going.map(({ txId, request }) => ({ txId, request })));
  const counts = countBy(going.map((c) => c.request.memberId));
  await tx.query(
    `UPDATE members SET version = members.version + c.n, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS c(id, n) WHERE members.id = c.id`,
    [[...counts.keys()], [...counts.values()]],
  );
  const balancesAfter = await writeLegs(tx, going);
  const pointsCredits = going.flatMap(({ request, txId, legs }) =>
    legs.filter((leg) => leg.account === 'points').map((leg) => ({ memberId: request.memberId, txId, points: leg.amount, expiresAt: request.pointsLots?.expiresAt ?? null })),
  );
  if (pointsCredits.length > 0) {
    await openLots(tx, pointsCredits);
    await assertLotsMatchBalances(tx, [...new Set(pointsCredits.map((lot) => lot.memberId))]);
  }

  // Each transaction's member as right after it: every member and card shown read together, with each
  // transaction's own balances and version.
  const viewKeyOf = ({ memberId, cardUid }: CreditRequest) => `${memberId}\n${cardUid ?? ''}`;
  const wanted = new Map(going.map(({ request }) => [viewKeyOf(request), { memberId: request.memberId, ...(request.cardUid ? { usedCardUid: request.cardUid } : {}) }]));
  const read = await readMembers(tx, ports, [...wanted.values()]);
  const views = new Map([...wanted.keys()].map((key, index) => [key, read[index]!]));
  const stored: Array<{ key: string; result: StoredPosting<undefined> }> = [];
  const nth = new Map<string, number>();
  for (const candidate of going) {
    const { memberId } = candidate.request;
    const k = (nth.get(memberId) ?? 0) + 1;
    nth.set(memberId, k);
    const member: MemberView = { ...views.get(viewKeyOf(candidate.request))!, balances: balancesAfter.get(candidate)!, version: versions.get(memberId)! + k };
    stored.push({ key: candidate.request.idempotencyKey, result: { txId: candidate.txId, member } });
    outcomes[candidate.index] = { status: 'posted', posted: { txId: candidate.txId, replay: false, member, outcome: undefined } };
  }
  await tx.query(
    `UPDATE idempotency_keys SET result = r.result::jsonb FROM unnest($1::text[], $2::text[]) AS r(key, result) WHERE idempotency_keys.key = r.key`,
    [stored.map((s) => s.key), stored.map((s) => JSON.stringify(s.result))],
  );
  return outcomes;
}

/** Claims the keys not used yet (in key order, so two batches never wait on each other in a cycle). */
async function claimKeys(tx: Queryable, candidates: readonly Fresh[]): Promise<Set<string>> {
  const sorted = [...candidates].sort((a, b) => (a.request.idempotencyKey < b.request.idempotencyKey ? -1 : 1));
  const { rows } = await tx.query<{ key: string }>(
    `INSERT INTO idempotency_keys (key, owner, fingerprint, member_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[]) ON CONFLICT (key) DO NOTHING RETURNING key`,
    [sorted.map((c) => c.request.idempotencyKey), sorted.map((c) => c.request.owner), sorted.map((c) => c.fingerprint), sorted.map((c) => c.request.memberId)],
  );
  return new Set(rows.map((row) => row.key));
}

/** A key used before: the first result (a replay), or IDEMPOTENCY_CONFLICT when it was used for something else. */
function replayed(candidate: Fresh, used: UsedKey | undefined): BatchPostingOutcome {
  const { request, fingerprint } = candidate;
  try {
    const first = replayOf<StoredPosting<undefined>>(used, { key: request.idempotencyKey, owner: request.owner, fingerprint });
    if (!first) throw new Error(`idempotency key ${request.idempotencyKey} conflicted but its claim is not visible`);
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

/**
 * Moves the member balances (one guarded UPDATE for all accounts, in id order: a credit cannot go short, the guard
 * only makes sure) and writes every posting with the running balance right after it; resolves with each
 * transaction's member balances after it.
 */
async function writeLegs(tx: Queryable, going: readonly Fresh[]): Promise<Map<Fresh, MemberView['balances']>> {
  const { rows } = await tx.query<{ id: string; kind: MemberAccountKind; member_id: string; balance: number }>(
    'SELECT id, kind, member_id, balance FROM accounts WHERE member_id = ANY($1::uuid[])',
    [[...new Set(going.map((c) => c.request.memberId))]],
  );
  const accounts = new Map(rows.map((row) => [`${row.member_id}\n${row.kind}`, row]));
  const running = new Map(rows.map((row) => [row.id, row.balance]));
  const systemIds = await systemAccountIds(
    tx,
    going.flatMap((c) => c.legs.flatMap((leg) => (typeof leg.account === 'string' ? [] : [leg.account]))),
  );
  const postings: Array<Posting & { txId: string }> = [];
  const after = new Map<Fresh, MemberView['balances']>();
  for (const candidate of going) {
    const account = (kind: MemberAccountKind) => accounts.get(`${candidate.request.memberId}\n${kind}`)!;
    for (const { account: target, amount } of candidate.legs) {
      if (typeof target === 'string') {
        const { id } = account(target);
        running.set(id, running.get(id)! + amount);
        postings.push({ txId: candidate.txId, accountId: id, asset: assetOf(target), amount, balanceAfter: running.get(id)! });
      } else {
        postings.push({ txId: candidate.txId, accountId: systemIds.get(target.code)!, asset: target.asset, amount, balanceAfter: null });
      }
    }
    const balance = (kind: MemberAccountKind) => running.get(account(kind).id)!;
    after.set(candidate, { principalFen: balance('stored_principal'), bonusFen: balance('stored_bonus'), points: balance('points') });
  }
  const moved = rows.filter((row) => running.get(row.id) !== row.balance).sort((a, b) => (a.id < b.id ? -1 : 1));
  const updated = await tx.query(
    `UPDATE accounts SET balance = accounts.balance + d.delta FROM unnest($1::uuid[], $2::bigint[]) AS d(id, delta)
      WHERE accounts.id = d.id AND accounts.balance + d.delta >= 0 RETURNING accounts.id`,
    [moved.map((row) => row.id), moved.map((row) => running.get(row.id)! - row.balance)],
  );
  if (updated.rows.length !== moved.length) throw new Error('a batch of credits would have taken a member balance below zero');
  await insertPostings(tx, postings);
  return after;
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}
