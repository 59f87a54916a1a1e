import { defineErrors } from '../kernel/errors.ts';

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
