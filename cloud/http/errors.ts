import type { FastifyError } from 'fastify';
import { LedgerError, type LedgerErrorCode } from '../ledger/errors.ts';
import { RequestValidationError } from './validation.ts';

/**
 * HTTP status of each ledger refusal. 409 covers every "understood, but the ledger's current state refuses
 * it" case — including insufficient funds — so clients retry none of them unchanged.
 */
const STATUS_OF: Record<LedgerErrorCode, number> = {
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

export interface ErrorReply {
  status: number;
  error: { code: string; message: string };
}

/** Every error the API returns has the shape `{ error: { code, message } }`; this picks both and the status. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof LedgerError) return { status: STATUS_OF[error.code], error: { code: error.code, message: error.message } };
  if (error instanceof RequestValidationError) return { status: 400, error: { code: 'VALIDATION_FAILED', message: error.message } };
  const statusCode = (error as FastifyError).statusCode;
  // Framework refusals before our code runs: malformed JSON, wrong content type, body too large.
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, error: { code: 'BAD_REQUEST', message: (error as Error).message } };
  }
  return { status: 500, error: { code: 'INTERNAL_ERROR', message: 'The hub hit an unexpected error. Please try again.' } };
}
