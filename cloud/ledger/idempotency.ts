import type { Database, Queryable } from '../db/database.ts';
import { kernelErrors } from '../kernel/errors.ts';

/**
 * The hub's one idempotency mechanism, for every module: a request names a key (unique per intended change; a
 * kiosk uses its outbox txId) and a fingerprint of what it asks. The first request with a key does its work in
 * one database transaction with the key's claim and stores its result there; every later request with that key
 * gets the stored result (a replay) — or, when it asks for something else, IDEMPOTENCY_CONFLICT, and nothing
 * happens. A posting made inside the work uses the claimed key; nothing else claims it again.
 *
 * The claim is an INSERT … ON CONFLICT DO NOTHING on the key: on PostgreSQL a concurrent request with the same
 * key waits there until the first one commits (then finds the key taken and replays it) or rolls back (then
 * claims the key itself). Results are stored as JSON, so a result must be plain data.
 */

export interface IdempotentRequest {
  /** Unique per intended change, 8 to 100 characters. */
  readonly key: string;
  /** The module that owns the change. */
  readonly owner: string;
  /** What makes two requests the same (a hash, or a readable composite): a replay must carry the same one. */
  readonly fingerprint: string;
  /** The member it concerns, if any (kept with the key for support queries). */
  readonly memberId?: string;
}

export interface OnceResult<R> {
  readonly result: R;
  /** True when the key was used before: `result` is the first result and nothing was done now. */
  readonly replay: boolean;
}

export function idempotencyConflict() {
  return kernelErrors.IDEMPOTENCY_CONFLICT({
    zh: '该请求编号已用于另一个请求，本次未做任何更改；请发起新的请求',
    en: 'This request key was already used for a different request, so nothing was done. Start a new request',
  });
}

/** Runs `work` once per key, in a transaction of its own. */
export function once<R>(db: Database, request: IdempotentRequest, work: (tx: Queryable) => Promise<R>): Promise<OnceResult<R>> {
  return db.transaction((tx) => onceWithin(tx, request, work));
}

/** Runs `work` once per key, inside the caller's transaction (which commits or rolls back the claim with it). */
export async function onceWithin<R>(tx: Queryable, request: IdempotentRequest, work: (tx: Queryable) => Promise<R>): Promise<OnceResult<R>> {
  const { rows } = await tx.query(
    `INSERT INTO idempotency_keys (key, owner, fingerprint, member_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (key) DO NOTHING RETURNING key`,
    [request.key, request.owner, request.fingerprint, request.memberId ?? null],
  );
  if (rows.length === 0) return { result: await firstResult<R>(tx, request), replay: true };
  const result = await work(tx);
  await tx.query('UPDATE idempotency_keys SET result = $2::jsonb WHERE key = $1', [request.key, JSON.stringify(result ?? null)]);
  return { result, replay: false };
}

/** The result stored under a key, if the key was used for this very request; IDEMPOTENCY_CONFLICT if for another. */
async function firstResult<R>(q: Queryable, request: IdempotentRequest): Promise<R> {
  const found = await earlierResult<R>(q, request);
  if (found === undefined) throw new Error(`idempotency key ${request.key} conflicted but its claim is not visible`);
  return found;
}

/** The result stored under a key, undefined when the key is unused; IDEMPOTENCY_CONFLICT when used for another request. */
export async function earlierResult<R>(q: Queryable, request: IdempotentRequest): Promise<R | undefined> {
  return replayOf<R>((await usedKeys(q, [request.key])).get(request.key), request);
}

/** What is stored under each of `keys` that is in use (one statement for a batch). */
export async function usedKeys(q: Queryable, keys: readonly string[]): Promise<Map<string, UsedKey>> {
  const { rows } = await q.query<UsedKey & { key: string }>('SELECT key, owner, fingerprint, result FROM idempotency_keys WHERE key = ANY($1::text[])', [keys]);
  return new Map(rows.map(({ key, ...used }) => [key, used]));
}

export interface UsedKey {
  owner: string;
  fingerprint: string;
  result: unknown;
}

/** The first result for `request` from its key's row; undefined when unused; IDEMPOTENCY_CONFLICT when used for another request. */
export function replayOf<R>(used: UsedKey | undefined, request: IdempotentRequest): R | undefined {
  if (!used) return undefined;
  if (used.owner !== request.owner || used.fingerprint !== request.fingerprint) throw idempotencyConflict();
  return used.result as R;
}
