export { Ledger, type AdjustPointsInput, type MovementInput, type RedeemPointsInput, type StoredValueInput } from './ledger.ts';
export { LedgerError, businessErrorOf, type LedgerErrorCode } from './errors.ts';
export type { BindCardInput, CreateMemberInput } from './members.ts';
export { TRANSACTION_KINDS, type PostedTransaction, type TransactionKind } from './posting.ts';
export type { StatementEntry } from './statement.ts';
export { toSnapshot, type Actor, type ActorType, type MemberView } from './types.ts';
