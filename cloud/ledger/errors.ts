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
  | 'IDEMPOTENCY_CONFLICT';

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
