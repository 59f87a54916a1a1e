import { isUuid } from '../../shared/ids.ts';
import { TopUpNotRefundableError, topUpRefund } from '../../shared/rules/stored-value.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { MemberAccountKind, SystemAccountKind } from './accounts.ts';
import { LedgerError } from './errors.ts';
import { consumeLots, lotsAwardedBy, moveLot, movesOf } from './points-lots.ts';
import { type Leg, type LockedBalances, type PostedTransaction, type TransactionKind, postTransaction } from './posting.ts';
import type { Actor, Asset } from './types.ts';
import { actorOf, idempotencyKeyOf, textOf } from './validate.ts';

/**
 * Refunds: a 'refund' transaction that posts the exact negation of an earlier transaction's postings,
 * linked to it in ledger_refunds (one refund per transaction, enforced by the primary key, so it holds
 * even for concurrent refunds on PostgreSQL). Two documented exceptions to "exact negation":
 *
 * - a top-up returns principal only: the bonus still in the bonus account is reversed and bonus already
 *   spent is paid back out of the principal returned (shared/rules/stored-value.ts topUpRefund);
 * - points the original awarded that have since expired are not taken back again (the expiry already did).
 *
 * Points: the lots the original took points from get exactly those points back (keeping their expiry — a
 * lot past its expiry is expired again by the next job run), and the lots it awarded are reversed. If some
 * awarded points were spent meanwhile, the same number is taken from the member's other lots, soonest-
 * expiring first; if the member no longer has that many points the refund is refused (NOT_REFUNDABLE) —
 * refund the spending first, or settle the difference at the counter with a points adjustment.
 */

/** What can be refunded. Refunds, expiries, awards and manual adjustments cannot (correct those with a new adjustment). */
export const REFUNDABLE_KINDS: readonly TransactionKind[] = ['cash_topup', 'stored_value_payment', 'points_redemption', 'checkout', 'card_fee'];

export interface RefundInput {
  originalTxId: string;
  /** Unique per refund request; a replay returns the first result. */
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  /** The store that handed back the money (settlement). */
  storeId?: string;
  /** Further writes atomic with the refund (a coupon back to issued, stock returned); see TransactionRequest.effects. */
  effects?: (tx: Queryable, refundTxId: string) => Promise<void>;
}

export interface RefundResult extends PostedTransaction {
  originalTxId: string;
}

interface OriginalPosting {
  amount: number;
  asset: Asset;
  kind: MemberAccountKind | SystemAccountKind;
  system_code: string | null;
}

/** How the refund changes lots; computed with the legs under the member lock, applied in effects. */
interface LotPlan {
  restore: Array<{ lotId: string; points: number }>;
  reverse: Array<{ lotId: string; points: number }>;
  /** Awarded points spent meanwhile, taken back from the member's other lots. */
  reclaim: number;
}

const transactionNotFound = (id: string) => new LedgerError('TRANSACTION_NOT_FOUND', `No transaction has the id ${id}.`);
const alreadyRefunded = () =>
  new LedgerError('ALREADY_REFUNDED', '该交易已退款 / This transaction has already been refunded.');

export async function refund(db: Database, input: RefundInput): Promise<RefundResult> {
  if (!isUuid(input.originalTxId)) throw transactionNotFound(String(input.originalTxId));
  const originalTxId = input.originalTxId;
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const storeId = input.storeId === undefined ? undefined : textOf(input.storeId, 'storeId', 40);
  const { rows } = await db.query<{ kind: TransactionKind; member_id: string }>(
    'SELECT kind, member_id FROM ledger_transactions WHERE id = $1',
    [originalTxId],
  );
  const original = rows[0];
  if (!original) throw transactionNotFound(originalTxId);
  if (original.kind === 'refund') {
    throw new LedgerError('NOT_REFUNDABLE', '退款交易不能再退款 / A refund cannot itself be refunded.');
  }
  if (!REFUNDABLE_KINDS.includes(original.kind)) {
    throw new LedgerError('NOT_REFUNDABLE', `此类交易不能退款 / A ${original.kind} transaction cannot be refunded; record an adjustment instead.`);
  }

  let plan: LotPlan | undefined;
  const posted = await postTransaction(db, {
    kind: 'refund',
    idempotencyKey,
    memberId: original.member_id,
    actor,
    reason,
    ...(storeId === undefined ? {} : { storeId }),
    intent: { refundOf: originalTxId },
    legs: async (balances, tx) => {
      const built = await refundLegs(tx, originalTxId, original.kind, balances);
      plan = built.plan;
      return built.legs;
    },
    pointsLots: 'custom',
    effects: async (tx, refundTxId) => {
      try {
        await tx.query('INSERT INTO ledger_refunds (original_tx_id, refund_tx_id) VALUES ($1, $2)', [originalTxId, refundTxId]);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw alreadyRefunded();
        throw error;
      }
      await applyLotPlan(tx, original.member_id, refundTxId, plan!);
      await input.effects?.(tx, refundTxId);
    },
  });
  return { ...posted, originalTxId };
}

/** The refund's legs and lot plan, from the original's postings and lots and the locked balances. */
async function refundLegs(
  tx: Queryable,
  originalTxId: string,
  kind: TransactionKind,
  balances: LockedBalances,
): Promise<{ legs: Leg[]; plan: LotPlan }> {
  // Under the member lock: a concurrent refund of the same transaction has committed by now, or waits for us.
  const done = await tx.query('SELECT 1 FROM ledger_refunds WHERE original_tx_id = $1', [originalTxId]);
  if (done.rows.length > 0) throw alreadyRefunded();

  const { rows } = await tx.query<OriginalPosting>(
    `SELECT p.amount, p.asset, a.kind, a.system_code FROM postings p JOIN accounts a ON a.id = p.account_id
      WHERE p.tx_id = $1 ORDER BY p.id`,
    [originalTxId],
  );
  const legs: Leg[] = rows.map((row) => ({
    account: row.system_code === null ? (row.kind as MemberAccountKind) : { kind: row.kind as SystemAccountKind, asset: row.asset, code: row.system_code },
    amount: -row.amount,
  }));
  if (kind === 'cash_topup') returnPrincipalOnly(legs, balances);

  const awarded = await lotsAwardedBy(tx, originalTxId);
  const expired = awarded.reduce((sum, lot) => sum + lot.expired, 0);
  if (expired > 0) {
    shrink(legs, (leg) => leg.account === 'points' && leg.amount < 0, expired);
    shrink(legs, (leg) => systemKind(leg) === 'points_issued' && leg.amount > 0, expired);
  }
  const pointsChange = legs.filter((leg) => leg.account === 'points').reduce((sum, leg) => sum + leg.amount, 0);
  if (balances.points + pointsChange < 0) {
    throw new LedgerError(
      'NOT_REFUNDABLE',
      `该交易赠送的积分已被使用，会员积分不足 / The points this transaction awarded were spent and the member has only ${balances.points} points; refund the spending first.`,
    );
  }
  const plan: LotPlan = {
    restore: (await movesOf(tx, originalTxId)).filter((move) => move.points < 0).map((move) => ({ lotId: move.lotId, points: -move.points })),
    reverse: awarded.filter((lot) => lot.remaining > 0).map((lot) => ({ lotId: lot.lotId, points: lot.remaining })),
    reclaim: awarded.reduce((sum, lot) => sum + lot.points - lot.expired - lot.remaining, 0),
  };
  // Credits first, so a member account that gets points or money back never dips below zero on the way.
  legs.sort((a, b) => Number(b.amount > 0) - Number(a.amount > 0));
  return { legs, plan };
}

const systemKind = (leg: Leg): SystemAccountKind | undefined => (typeof leg.account === 'string' ? undefined : leg.account.kind);

/** Applies the top-up refund rule to the negated top-up legs (see shared/rules/stored-value.ts). */
function returnPrincipalOnly(legs: Leg[], balances: LockedBalances): void {
  const principalFen = -sum(legs, (leg) => leg.account === 'stored_principal');
  const bonusFen = -sum(legs, (leg) => leg.account === 'stored_bonus');
  let rule: ReturnType<typeof topUpRefund>;
  try {
    rule = topUpRefund({ principalFen, bonusFen }, balances);
  } catch (error) {
    if (error instanceof TopUpNotRefundableError) throw new LedgerError('NOT_REFUNDABLE', error.message);
    throw error;
  }
  // The bonus still there is reversed; the spent part is paid from the principal instead of handed back in cash.
  shrink(legs, (leg) => leg.account === 'stored_bonus', rule.spentBonusFen);
  shrink(legs, (leg) => systemKind(leg) === 'cash_received', rule.spentBonusFen);
}

function sum(legs: readonly Leg[], match: (leg: Leg) => boolean): number {
  return legs.filter(match).reduce((total, leg) => total + leg.amount, 0);
}

/** Moves the matching legs `by` towards zero (in order), e.g. −100 shrunk by 30 → −70. */
function shrink(legs: Leg[], match: (leg: Leg) => boolean, by: number): void {
  let left = by;
  for (const leg of legs) {
    if (left === 0) return;
    if (!match(leg)) continue;
    const step = Math.min(Math.abs(leg.amount), left);
    leg.amount -= Math.sign(leg.amount) * step;
    left -= step;
  }
  if (left > 0) throw new Error(`refund: could not take ${left} off the original's legs`);
}

async function applyLotPlan(tx: Queryable, memberId: string, refundTxId: string, plan: LotPlan): Promise<void> {
  for (const { lotId, points } of plan.restore) await moveLot(tx, refundTxId, lotId, points);
  for (const { lotId, points } of plan.reverse) await moveLot(tx, refundTxId, lotId, -points);
  if (plan.reclaim > 0) await consumeLots(tx, memberId, refundTxId, plan.reclaim);
}

/** The refund of a transaction, if it has one. */
export async function refundOf(q: Queryable, originalTxId: string): Promise<string | undefined> {
  if (!isUuid(originalTxId)) return undefined;
  const { rows } = await q.query<{ refund_tx_id: string }>('SELECT refund_tx_id FROM ledger_refunds WHERE original_tx_id = $1', [originalTxId]);
  return rows[0]?.refund_tx_id;
}
