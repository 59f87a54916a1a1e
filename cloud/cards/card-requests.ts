import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import { systemAccounts } from '../ledger/accounts.ts';
import { LedgerError } from '../ledger/errors.ts';
import { memberNotFound } from '../ledger/members.ts';
import { postTransaction, storedValueSpendLegs } from '../ledger/posting.ts';
import type { Actor } from '../ledger/types.ts';

/** One card change as the service hands it to the runner below. */
export interface CardRequest {
  idempotencyKey: string;
  memberId: string;
  actor: Actor;
  reason: string;
  storeId?: string;
  /** What was asked (action, cards, parameters): a replay of the key must ask exactly the same. */
  intent: unknown;
  /** A fee taken from the member's stored value in the same transaction; 0 when free or waived. */
  feeFen: number;
}

export interface CardRequestSteps<C, R> {
  /**
   * Runs under the member lock before any fee is taken: lock the card rows and refuse (LedgerError) a
   * change the card's current state or the caller does not allow. Must not write.
   */
  check(tx: Queryable): Promise<C>;
  /** Makes the change, writes the audit rows, returns the result (stored for replays, so JSON only). */
  apply(tx: Queryable, checked: C, feeTxId: string | undefined): Promise<R>;
}

/**
 * Runs a card change exactly once per idempotency key, in one database transaction with its fee:
 * - a key seen before returns the first result (replay: true), a different request under it is refused;
 * - with a fee, it is one 'card_fee' ledger transaction whose legs are built under the member lock (stored
 *   value, principal first, then bonus — the member's own money before the chain's gift) and whose
 *   `effects` make the card change, so fee and change commit or roll back together and a retry never
 *   charges twice (the ledger's key claim serialises concurrent retries);
 * - without a fee, the same order of locks by hand: member, then card rows.
 * Either way the member's version is bumped, so kiosks holding the member hear of the change.
 */
export async function runCardRequest<C, R extends object>(
  db: Database,
  request: CardRequest,
  steps: CardRequestSteps<C, R>,
): Promise<R & { replay: boolean }> {
  const payloadHash = hashOf(request);
  const earlier = await firstResult<R>(db, request.idempotencyKey, payloadHash);
  if (earlier) return { ...earlier, replay: true };
  if (request.feeFen > 0) return withFee(db, request, payloadHash, steps);
  return db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM members WHERE id = $1 FOR UPDATE', [request.memberId]);
    if (locked.rows.length === 0) throw memberNotFound(request.memberId);
    // A concurrent twin that held the lock before us has committed by now.
    const twin = await firstResult<R>(tx, request.idempotencyKey, payloadHash);
    if (twin) return { ...twin, replay: true };
    await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [request.memberId]);
    const result = await steps.apply(tx, await steps.check(tx), undefined);
    await storeResult(tx, request, payloadHash, result);
    return { ...result, replay: false };
  });
}

async function withFee<C, R extends object>(
  db: Database,
  request: CardRequest,
  payloadHash: string,
  steps: CardRequestSteps<C, R>,
): Promise<R & { replay: boolean }> {
  let checked: C;
  let result: R | undefined;
  const posted = await postTransaction(db, {
    kind: 'card_fee',
    idempotencyKey: request.idempotencyKey,
    memberId: request.memberId,
    actor: request.actor,
    reason: request.reason,
    ...(request.storeId === undefined ? {} : { storeId: request.storeId }),
    intent: { card: payloadHash },
    legs: async (balances, tx) => {
      checked = await steps.check(tx);
      return storedValueSpendLegs('principal_first', balances, request.feeFen, systemAccounts.feesReceived());
    },
    effects: async (tx, txId) => {
      result = await steps.apply(tx, checked, txId);
      await storeResult(tx, request, payloadHash, result);
    },
  });
  if (!posted.replay) return { ...result!, replay: false };
  // A concurrent twin committed first; the ledger replayed its fee, the card request holds its result.
  const twin = await firstResult<R>(db, request.idempotencyKey, payloadHash);
  if (!twin) throw idempotencyConflict();
  return { ...twin, replay: true };
}

/**
 * What a replay must repeat: what was asked, by whom, why and where. Not the fee: it follows from the price
 * list in force, and a retry after new program rules were published is still the same request (it gets the
 * first result, fee included), not a different one.
 */
function hashOf(request: CardRequest): string {
  const { intent, memberId, actor, reason, storeId } = request;
  return createHash('sha256')
    .update(JSON.stringify([intent, memberId, actor.type, actor.id, reason, storeId ?? null]))
    .digest('hex');
}

function idempotencyConflict(): LedgerError {
  return new LedgerError(
    'IDEMPOTENCY_CONFLICT',
    'This request key was already used for a different request, so nothing was done. Start a new request.',
  );
}

async function firstResult<R>(q: Queryable, idempotencyKey: string, payloadHash: string): Promise<R | undefined> {
  const { rows } = await q.query<{ payload_hash: string; result: R }>(
    'SELECT payload_hash, result FROM card_requests WHERE idempotency_key = $1',
    [idempotencyKey],
  );
  if (!rows[0]) return undefined;
  if (rows[0].payload_hash !== payloadHash) throw idempotencyConflict();
  return rows[0].result;
}

async function storeResult(tx: Queryable, request: CardRequest, payloadHash: string, result: object): Promise<void> {
  await tx.query('INSERT INTO card_requests (idempotency_key, payload_hash, member_id, result) VALUES ($1, $2, $3, $4::jsonb)', [
    request.idempotencyKey,
    payloadHash,
    request.memberId,
    JSON.stringify(result),
  ]);
}
