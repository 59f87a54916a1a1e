/**
 * Stored value is two balances (decision 3): principal — the money the member paid in — and bonus — what
 * the chain gave on top (充100送20: the 20). These pure rules decide how a payment is split between them
 * and what a top-up refund gives back. Kiosk and hub use the same functions, so both get the same split.
 */
import { InvalidAmountError, isFen } from '../money.ts';

export const SPENDING_ORDERS = ['principal_first', 'bonus_first', 'proportional'] as const;
/**
 * Which balance a payment takes first:
 * - principal_first: principal until it is used up, then bonus (the member keeps the bonus longest);
 * - bonus_first: bonus first (the chain's promotion is consumed before the member's own money);
 * - proportional: in the ratio of the two balances at the moment of payment.
 */
export type SpendingOrder = (typeof SPENDING_ORDERS)[number];

export interface StoredValueSplit {
  readonly principalFen: number;
  readonly bonusFen: number;
}

/** The two balances do not cover the amount; nothing may be spent. */
export class InsufficientStoredValueError extends Error {
  constructor(
    readonly availableFen: number,
    readonly neededFen: number,
  ) {
    super(`stored value ${availableFen} fen does not cover ${neededFen} fen`);
    this.name = 'InsufficientStoredValueError';
  }
}

export function isSpendingOrder(value: unknown): value is SpendingOrder {
  return typeof value === 'string' && (SPENDING_ORDERS as readonly string[]).includes(value);
}

function assertBalances(available: StoredValueSplit): void {
  for (const [name, value] of [['principalFen', available.principalFen], ['bonusFen', available.bonusFen]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidAmountError(`available ${name} must be a whole number of fen ≥ 0: ${String(value)}`);
    }
  }
}

/**
 * How much of `amountFen` comes from principal and how much from bonus. The parts always sum to the
 * amount and never exceed their balance; a total shortfall throws InsufficientStoredValueError.
 *
 * Proportional rounding: the bonus part is floored — bonus = ⌊amount × bonus / (principal + bonus)⌋ in
 * BigInt — so the remainder fen (at most one) is paid from principal. That keeps the bonus, the chain's
 * promotion money, from being drawn beyond its share, and principal = ⌈amount × principal / total⌉ can never
 * exceed the principal balance.
 */
export function splitStoredValueSpend(order: SpendingOrder, available: StoredValueSplit, amountFen: number): StoredValueSplit {
  if (!isSpendingOrder(order)) throw new InvalidAmountError(`unknown spending order: ${String(order)}`);
  if (!isFen(amountFen) || amountFen <= 0) {
    throw new InvalidAmountError(`amount must be a positive whole number of fen: ${String(amountFen)}`);
  }
  assertBalances(available);
  const total = available.principalFen + available.bonusFen;
  if (total < amountFen) throw new InsufficientStoredValueError(total, amountFen);
  switch (order) {
    case 'principal_first': {
      const principalFen = Math.min(available.principalFen, amountFen);
      return { principalFen, bonusFen: amountFen - principalFen };
    }
    case 'bonus_first': {
      const bonusFen = Math.min(available.bonusFen, amountFen);
      return { principalFen: amountFen - bonusFen, bonusFen };
    }
    case 'proportional': {
      const bonusFen = Number((BigInt(amountFen) * BigInt(available.bonusFen)) / BigInt(total));
      return { principalFen: amountFen - bonusFen, bonusFen };
    }
  }
}

/** What a top-up originally credited. */
export interface ToppedUp {
  readonly principalFen: number;
  readonly bonusFen: number;
}

export interface TopUpRefund {
  /** Cash handed back to the member: the principal less any bonus they already spent. */
  readonly cashReturnedFen: number;
  /** Taken from the principal account: always the whole principal of the top-up. */
  readonly principalDebitFen: number;
  /** Taken from the bonus account: the part of the top-up's bonus still there. */
  readonly bonusDebitFen: number;
  /** Bonus of this top-up already spent; the member pays it back out of the principal returned. */
  readonly spentBonusFen: number;
}

export type TopUpRefundRefusal = 'principal_spent' | 'bonus_spent_exceeds_principal';

/** A top-up cannot be refunded; `message` is bilingual, for the clerk and the member. */
export class TopUpNotRefundableError extends Error {
  constructor(
    readonly reason: TopUpRefundRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'TopUpNotRefundableError';
  }
}

/**
 * Refunding a top-up returns principal only and cancels the bonus (the bonus was a gift conditional on
 * the money staying in). The rule when some bonus was already spent:
 *
 * - bonus is fungible, so "still there" = min(top-up bonus, current bonus balance) is reversed from the
 *   bonus account; the rest (spentBonusFen) was consumed by purchases;
 * - the member pays for the bonus they consumed: spentBonusFen is deducted from the cash returned, so the
 *   chain ends exactly where it would have been without the promotion (bonus_issued fully reversed);
 * - the whole principal of the top-up must still be in the principal account (otherwise the money was
 *   spent and cannot be handed back), and the spent bonus cannot exceed the principal returned.
 *
 * Points awarded with the top-up are reversed by the ledger's lot rules (like every refund), not here.
 */
export function topUpRefund(original: ToppedUp, balances: StoredValueSplit): TopUpRefund {
  if (!isFen(original.principalFen) || original.principalFen <= 0) {
    throw new InvalidAmountError(`top-up principal must be a positive whole number of fen: ${String(original.principalFen)}`);
  }
  if (!isFen(original.bonusFen) || original.bonusFen < 0) {
    throw new InvalidAmountError(`top-up bonus must be a whole number of fen ≥ 0: ${String(original.bonusFen)}`);
  }
  assertBalances(balances);
  if (balances.principalFen < original.principalFen) {
    throw new TopUpNotRefundableError(
      'principal_spent',
      '该笔充值的本金已被使用，无法退款 / The principal of this top-up has already been spent, so it cannot be refunded.',
    );
  }
  const bonusDebitFen = Math.min(original.bonusFen, balances.bonusFen);
  const spentBonusFen = original.bonusFen - bonusDebitFen;
  if (spentBonusFen > original.principalFen) {
    throw new TopUpNotRefundableError(
      'bonus_spent_exceeds_principal',
      '已使用的赠送金额超过可退本金，无法退款 / The bonus already spent is more than the principal, so this top-up cannot be refunded.',
    );
  }
  return {
    cashReturnedFen: original.principalFen - spentBonusFen,
    principalDebitFen: original.principalFen,
    bonusDebitFen,
    spentBonusFen,
  };
}
