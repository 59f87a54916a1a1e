/**
 * The ledger: members and their accounts (stored-value principal and bonus, points in expiring lots), every
 * movement as a double-entry transaction applied exactly once per idempotency key, refunds dispatched to the
 * module that owns the transaction, and the cross-store settlement. Other modules reach it only through this file.
 */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { ledgerErrors } from './errors.ts';
import { kioskTopUps } from './kiosk-topups.ts';
import { expirePoints } from './points-expiry-job.ts';
import { registerLedgerRoutes } from './routes.ts';
import { registerSettlementRoute } from './settlement.ts';

export { Ledger, type AdjustPointsInput, type MovementInput, type PaymentInput, type RedeemPointsInput, type StoredValueInput, type TopUpInput, type TopUpResult } from './ledger.ts';
export { ledgerErrors } from './errors.ts';
export { systemAccounts, type SystemAccount } from './accounts.ts';
export { idempotencyConflict, type IdempotentRequest, type OnceResult } from './idempotency.ts';
export { awardLegs, insufficientBalance, pointsSpendLegs, storedValueSpendLegs, type Leg, type LockedBalances } from './legs.ts';
export { lockMember, memberChanged, membersPage, profileOf, recentlyChangedMembersSql, setBirthday, type CreateMemberInput, type MemberProfile } from './members.ts';
export { expiringLotsOf, expiringLotsSql, memberBalancesSql, memberSnapshotOf, storedValueSpentSql, type MemberBalancesRow } from './kiosk-member-read.ts';
export { EXPIRY_JOB_ACTOR, pointsExpiringSoon, pointsLots, type ExpiryOptions, type ExpiryRun } from './points-expiry-job.ts';
export { openLotBalances, type PointsLotView } from './points-lots.ts';
export type { LedgerPorts, PresentedCard, ShownCardQuery } from './ports.ts';
export { TRANSACTION_KINDS, type LegsBuilder, type PostedTransaction, type TransactionKind, type TransactionRequest } from './posting.ts';
export { REFUNDABLE_KINDS, transactionNotFound, type RefundInput, type RefundResult } from './refunds.ts';
export { storedValueSpentFen } from './spend.ts';
export { Member, MemberParams, PointsAdjustmentBody, StoredValueBody } from './schemas.ts';
export type { StatementEntry } from './statement.ts';
export { toSnapshot, type MemberView } from './types.ts';
export { MAX_POINTS, cardNumberOf, cardUidOf, deviceOf, fenOf, memberIdOf, memberNotFound, phoneOf, pointsOf } from './validate.ts';

export function ledgerModule(hub: HubServices): HubModule {
  const { db, ledger, rules } = hub;
  return {
    name: 'ledger',
    tables: ['members', 'accounts', 'ledger_transactions', 'postings', 'points_lots', 'points_lot_moves', 'ledger_refunds', 'idempotency_keys'],
    errors: ledgerErrors,
    routes: async (api) => {
      registerLedgerRoutes(api, { db, ledger, rules });
      registerSettlementRoute(api, db);
    },
    deviceOperations: { transactions: { cash_topup: kioskTopUps(ledger, rules) } },
    jobs: [{ name: 'points-expiry', run: ({ asOf, logger }) => expirePoints(db, ledger, { asOf, logger }) }],
  };
}
