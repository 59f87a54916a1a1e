import { defineErrors, HubError, refusalOf, type ErrorStatus } from '../kernel/errors.ts';

/** The ledger's refusals: each means nothing was changed. */
export const ledgerErrors = defineErrors('ledger', {
  /** Not a whole number of fen or points in range. */
  INVALID_AMOUNT: 400,
  /** Not 4, 7 or 10 bytes of hex. */
  INVALID_CARD_UID: 400,
  /** Not 16 digits. */
  INVALID_CARD_NUMBER: 400,
  MEMBER_NOT_FOUND: 404,
  TRANSACTION_NOT_FOUND: 404,
  INSUFFICIENT_BALANCE: 409,
  INSUFFICIENT_POINTS: 409,
  /** A refund, an expiry, an award, or a transaction whose owner does not reverse it. */
  NOT_REFUNDABLE: 409,
  ALREADY_REFUNDED: 409,
});

/**
 * Every refusal the ledger can give, as a stable code plus a sentence a store clerk understands.
 * A LedgerError always means nothing was changed.
 */
export type LedgerErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_AMOUNT'
  | 'INVALID_CARD_UID'
  | 'INVALID_CARD_NUMBER'
  | 'MEMBER_NOT_FOUND'
  | 'CARD_NOT_FOUND'
  | 'CARD_ALREADY_BOUND'
  | 'INSUFFICIENT_BALANCE'
  | 'INSUFFICIENT_POINTS'
  | 'IDEMPOTENCY_CONFLICT'
  | 'NOT_FOUND'
  | 'TRANSACTION_NOT_FOUND'
  | 'NOT_REFUNDABLE'
  | 'ALREADY_REFUNDED'
  | 'RULES_INVALID'
  | 'BUDGET_EXCEEDED'
  | 'ALREADY_CHECKED_IN'
  | 'OUT_OF_STOCK'
  | 'REDEMPTION_LIMIT_REACHED'
  | 'VOUCHER_NOT_FOUND'
  | 'VOUCHER_INVALID'
  | 'VOUCHER_ALREADY_USED'
  | 'VOUCHER_EXPIRED'
  | 'VOUCHER_WRONG_STORE'
  | 'ITEM_NOT_AVAILABLE'
  | 'COUPON_NOT_FOUND'
  | 'COUPON_NOT_APPLICABLE'
  | 'COUPON_ALREADY_USED'
  | 'CARD_LOST'
  | 'CARD_FROZEN'
  | 'CARD_INVALID_STATE'
  | 'CARD_DAILY_LIMIT_EXCEEDED'
  | 'STORE_NOT_FOUND'
  | 'OPERATOR_NOT_FOUND'
  | 'CONFLICT'
  /** No valid operator token (HTTP 401). */
  | 'UNAUTHENTICATED'
  /** A valid operator whose role or scope does not allow this (HTTP 403). */
  | 'FORBIDDEN';

/**
 * HTTP status of each refusal. 409 covers every "understood, but the ledger's current state refuses it" case —
 * including insufficient funds — so clients retry none of them unchanged.
 */
const STATUS_OF: Record<LedgerErrorCode, ErrorStatus> = {
  INVALID_INPUT: 400,
  INVALID_AMOUNT: 400,
  INVALID_CARD_UID: 400,
  INVALID_CARD_NUMBER: 400,
  MEMBER_NOT_FOUND: 404,
  CARD_NOT_FOUND: 404,
  CARD_ALREADY_BOUND: 409,
  INSUFFICIENT_BALANCE: 409,
  INSUFFICIENT_POINTS: 409,
  IDEMPOTENCY_CONFLICT: 409,
  NOT_FOUND: 404,
  TRANSACTION_NOT_FOUND: 404,
  NOT_REFUNDABLE: 409,
  ALREADY_REFUNDED: 409,
  RULES_INVALID: 400,
  BUDGET_EXCEEDED: 409,
  ALREADY_CHECKED_IN: 409,
  OUT_OF_STOCK: 409,
  REDEMPTION_LIMIT_REACHED: 409,
  VOUCHER_NOT_FOUND: 404,
  VOUCHER_INVALID: 400,
  VOUCHER_ALREADY_USED: 409,
  VOUCHER_EXPIRED: 409,
  VOUCHER_WRONG_STORE: 409,
  ITEM_NOT_AVAILABLE: 409,
  COUPON_NOT_FOUND: 404,
  COUPON_NOT_APPLICABLE: 409,
  COUPON_ALREADY_USED: 409,
  CARD_LOST: 409,
  CARD_FROZEN: 409,
  CARD_INVALID_STATE: 409,
  CARD_DAILY_LIMIT_EXCEEDED: 409,
  STORE_NOT_FOUND: 404,
  OPERATOR_NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
};

export class LedgerError extends HubError {
  declare readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, message: string) {
    super(code, STATUS_OF[code], message, 'ledger');
    this.name = 'LedgerError';
  }
}

/**
 * The code and message of a business refusal, or undefined for anything else (database down, bug).
 * A refusal is final — resending the same request gets the same answer; anything else may succeed on retry.
 */
export const businessErrorOf = refusalOf;
