export {
  Ledger,
  type AdjustPointsInput,
  type MovementInput,
  type PaymentInput,
  type RedeemPointsInput,
  type StoredValueInput,
  type TopUpInput,
  type TopUpResult,
} from './ledger.ts';
export { LedgerError, businessErrorOf, type LedgerErrorCode } from './errors.ts';
export type { BindCardInput, CreateMemberInput } from './members.ts';
export {
  TRANSACTION_KINDS,
  postTransaction,
  storedValueSpendLegs,
  type Leg,
  type LegsBuilder,
  type LockedBalances,
  type PostedTransaction,
  type TransactionKind,
  type TransactionRequest,
} from './posting.ts';
export { EXPIRY_JOB_ACTOR, expirePoints, pointsExpiringSoon, pointsLots, type ExpiryOptions, type ExpiryRun } from './points-expiry-job.ts';
export type { PointsLotView } from './points-lots.ts';
export { REFUNDABLE_KINDS, refund, refundOf, type RefundInput, type RefundResult } from './refunds.ts';
export type { StatementEntry } from './statement.ts';
export { toSnapshot, type Actor, type ActorType, type MemberView } from './types.ts';
