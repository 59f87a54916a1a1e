import { isUuid } from '../../shared/ids.ts';
import { TopUpNotRefundableError, topUpRefund } from '../../shared/rules/stored-value.ts';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, idempotencyKeyOf, textOf } from '../kernel/input.ts';
import { splitBilingual } from '../kernel/errors.ts';
import type { Reverser } from '../kernel/module.ts';
import type { MemberAccountKind, SystemAccountKind } from './accounts.ts';
import { ledgerErrors } from './errors.ts';
import type { Leg, LockedBalances } from './legs.ts';
import { consumeLots, lotsAwardedBy, moveLot, movesOf } from './points-lots.ts';
import type { PostedTransaction, TransactionKind, TransactionRequest } from './posting.ts';
import type { Asset } from './types.ts';

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
 *
 * Effects beyond the ledger: every transaction names the module that owns it, and the refund is handed to that
 * module's reverser in the same database transaction (the stock back, the coupon restored, the voucher marked
 * refunded — or a refusal, which rolls the whole refund back). A transaction whose owner registered no reverser
 * is not refundable. So whichever route a refund comes through, the money and the effects go together.
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

export const transactionNotFound = (id: string) =>
  ledgerErrors.TRANSACTION_NOT_FOUND({ zh: `没有编号为 ${id} 的交易`, en: `No transaction has the id ${id}` });
const alreadyRefunded = () => ledgerErrors.ALREADY_REFUNDED({ zh: '该交易已退款', en: 'This transaction has already been refunded' });

interface Original {
  kind: TransactionKind;
  member_id: string;
  owner: string;
}

/** The transaction to refund and who owns it; TRANSACTION_NOT_FOUND for an unknown or malformed id. */
export async function originalOf(q: Queryable, txId: unknown): Promise<Original & { id: string }> {
  const { rows } = isUuid(txId) ? await q.query<Original>('SELECT kind, member_id, owner FROM ledger_transactions WHERE id = $1', [txId]) : { rows: [] };
  if (!rows[0]) throw transactionNotFound(String(txId));
  return { ...rows[0], id: txId as string };
}

/**
 * The refund as a posting request: validated, dispatched to the owner's reverser. `reverserOf` names the
 * reverser of an owner, undefined when it has none (then the transaction is not refundable).
 */
export function refundRequest(
  input: RefundInput,
  original: Original & { id: string },
  reverserOf: (owner: string) => Reverser | undefined,
): TransactionRequest<LotPlan, undefined> {
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const storeId = input.storeId === undefined ? undefined : textOf(input.storeId, 'storeId', 40);
  if (original.kind === 'refund') throw ledgerErrors.NOT_REFUNDABLE({ zh: '退款交易不能再退款', en: 'A refund cannot itself be refunded' });
  if (!REFUNDABLE_KINDS.includes(original.kind)) {
    throw ledgerErrors.NOT_REFUNDABLE({ zh: '此类交易不能退款，请改为调整', en: `A ${original.kind} transaction cannot be refunded; record an adjustment instead` });
  }
  const reverse = reverserOf(original.owner);
  if (!reverse) {
    throw ledgerErrors.NOT_REFUNDABLE({ zh: '这笔交易的业务不支持退款', en: `The ${original.owner} module does not refund its transactions` });
  }
  return {
    kind: 'refund',
    owner: 'ledger',
    idempotencyKey,
    memberId: original.member_id,
    actor,
    reason,
    ...(storeId === undefined ? {} : { storeId }),
    intent: { refundOf: original.id },
    legs: async (balances, tx) => refundLegs(tx, original.id, original.kind, balances),
    pointsLots: 'custom',
    effects: async (tx, { txId: refundTxId, context: plan }) => {
      try {
        await tx.query('INSERT INTO ledger_refunds (original_tx_id, refund_tx_id) VALUES ($1, $2)', [original.id, refundTxId]);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw alreadyRefunded();
        throw error;
      }
      await applyLotPlan(tx, original.member_id, refundTxId, plan);
      await reverse(tx, { originalTxId: original.id, refundTxId, idempotencyKey, actor, reason, ...(storeId === undefined ? {} : { storeId }) });
      return undefined;
    },
  };
}

/** The refund's legs and lot plan, from the original's postings and lots and the locked balances. */
async function refundLegs(
  tx: Queryable,
  originalTxId: string,
  kind: TransactionKind,
  balances: LockedBalances,
): Promise<{ legs: Leg[]; context: LotPlan }> {
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
    throw ledgerErrors.NOT_REFUNDABLE({
      zh: `该交易赠送的积分已被使用，会员只剩 ${balances.points} 分；请先退还那笔消费`,
      en: `The points this transaction awarded were spent and the member has only ${balances.points} points; refund the spending first`,
    });
  }
  const plan: LotPlan = {
    restore: (await movesOf(tx, originalTxId)).filter((move) => move.points < 0).map((move) => ({ lotId: move.lotId, points: -move.points })),
    reverse: awarded.filter((lot) => lot.remaining > 0).map((lot) => ({ lotId: lot.lotId, points: lot.remaining })),
    reclaim: awarded.reduce((sum, lot) => sum + lot.points - lot.expired - lot.remaining, 0),
  };
  // Credits first, so a member account that gets points or money back never dips below zero on the way.
  legs.sort((a, b) => Number(b.amount > 0) - Number(a.amount > 0));
  return { legs, context: plan };
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
    if (error instanceof TopUpNotRefundableError) throw ledgerErrors.NOT_REFUNDABLE(splitBilingual(error.message));
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
