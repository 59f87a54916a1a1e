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
export { homeStoreOf, type BindCardInput, type CreateMemberInput } from './members.ts';
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

import type { HubModule, HubServices } from '../kernel/module.ts';
import { kioskTopUps } from './kiosk-topups.ts';
import { expirePoints as runPointsExpiry } from './points-expiry-job.ts';
import { registerLedgerRoutes } from './routes.ts';

/**
 * The ledger: members and their accounts (stored-value principal and bonus, points in expiring lots), every
 * movement as a double-entry transaction applied exactly once per idempotency key, and refunds.
 */
export function ledgerModule(hub: HubServices): HubModule {
  const { db, ledger, rules } = hub;
  return {
    name: 'ledger',
    tables: ['members', 'accounts', 'ledger_transactions', 'postings', 'points_lots', 'points_lot_moves', 'ledger_refunds'],
    routes: async (api) => registerLedgerRoutes(api, { db, ledger, rules }),
    deviceOperations: { transactions: { cash_topup: kioskTopUps(ledger, rules) } },
    jobs: [{ name: 'points-expiry', run: ({ asOf, logger }) => runPointsExpiry(db, { asOf, logger }) }],
  };
}
