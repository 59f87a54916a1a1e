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

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

/**
 * The code and message of a business refusal, or undefined for anything else (database down, bug).
 * A refusal is final — resending the same request gets the same answer; anything else may succeed on retry.
 */
export function businessErrorOf(error: unknown): { code: LedgerErrorCode; message: string } | undefined {
  return error instanceof LedgerError ? { code: error.code, message: error.message } : undefined;
}
