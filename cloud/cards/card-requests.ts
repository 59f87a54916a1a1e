import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { lockMember, memberChanged, storedValueSpendLegs, systemAccounts, type Ledger } from '../ledger/index.ts';

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
   * Runs under the member lock before any fee is taken: lock the card rows and refuse (a HubError) a change the
   * card's current state or the caller does not allow. Must not write.
   */
  check(tx: Queryable): Promise<C>;
  /** Makes the change, writes the audit rows, returns the result (stored for replays, so JSON only). */
  apply(tx: Queryable, checked: C, feeTxId: string | undefined): Promise<R>;
}

/**
 * Runs a card change exactly once per idempotency key (the ledger's idempotency: a replay returns the first
 * result, a different request under the key is refused), in one database transaction with its fee:
 * - with a fee, it is one 'card_fee' ledger transaction whose legs are built under the member lock (stored
 *   value, principal first, then bonus — the member's own money before the chain's gift) and whose effects make
 *   the card change, so fee and change commit or roll back together and a retry never charges twice;
 * - without a fee, the same order of locks by hand: member, then card rows.
 * Either way the member's version is bumped, so kiosks holding the member hear of the change.
 */
export async function runCardRequest<C, R extends object>(ledger: Ledger, request: CardRequest, steps: CardRequestSteps<C, R>): Promise<R & { replay: boolean }> {
  const fingerprint = fingerprintOf(request);
  if (request.feeFen > 0) {
    const posted = await ledger.post<C, R>({
      kind: 'card_fee',
      owner: 'cards',
      idempotencyKey: request.idempotencyKey,
      fingerprint,
      memberId: request.memberId,
      actor: request.actor,
      reason: request.reason,
      ...(request.storeId === undefined ? {} : { storeId: request.storeId }),
      intent: { card: fingerprint },
      legs: async (balances, tx) => ({
        context: await steps.check(tx),
        legs: storedValueSpendLegs('principal_first', balances, request.feeFen, systemAccounts.feesReceived()),
      }),
      effects: (tx, { txId, context }) => steps.apply(tx, context, txId),
    });
    return { ...posted.outcome, replay: posted.replay };
  }
  const { result, replay } = await ledger.once({ key: request.idempotencyKey, owner: 'cards', fingerprint, memberId: request.memberId }, async (tx) => {
    await lockMember(tx, request.memberId);
    await memberChanged(tx, request.memberId);
    return steps.apply(tx, await steps.check(tx), undefined);
  });
  return { ...result, replay };
}

/**
 * What a replay must repeat: what was asked, by whom, why and where. Not the fee: it follows from the price
 * list in force, and a retry after new program rules were published is still the same request (it gets the
 * first result, fee included), not a different one.
 */
function fingerprintOf(request: CardRequest): string {
  const { intent, memberId, actor, reason, storeId } = request;
  return createHash('sha256')
    .update(JSON.stringify([intent, memberId, actor.type, actor.id, reason, storeId ?? null]))
    .digest('hex');
}
