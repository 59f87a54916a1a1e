import { formatFen } from '../../shared/money.ts';
import { InsufficientStoredValueError, type SpendingOrder, splitStoredValueSpend } from '../../shared/rules/stored-value.ts';
import { ledgerErrors } from './errors.ts';
import { MEMBER_ACCOUNTS, type MemberAccountKind, type SystemAccount, systemAccounts } from './accounts.ts';
import type { Asset } from './types.ts';

/** One side of a transaction: a signed amount on one of the member's accounts or on a system account. */
export interface Leg {
  account: MemberAccountKind | SystemAccount;
  amount: number;
}

/** The member's balances read under the member lock: no concurrent change can make them stale before commit. */
export interface LockedBalances {
  principalFen: number;
  bonusFen: number;
  points: number;
}

export const assetOf = (account: Leg['account']): Asset => (typeof account === 'string' ? MEMBER_ACCOUNTS[account] : account.asset);

/**
 * The legs of a stored-value spend of `amountFen`, split between principal and bonus by `order` from the
 * locked balances, paid to `contra` (storedValueSpent, feesReceived, …). Add further legs (points spent or
 * earned) to the array it returns.
 */
export function storedValueSpendLegs(order: SpendingOrder, balances: LockedBalances, amountFen: number, contra: SystemAccount): Leg[] {
  try {
    const split = splitStoredValueSpend(order, balances, amountFen);
    return [
      { account: 'stored_principal', amount: -split.principalFen },
      { account: 'stored_bonus', amount: -split.bonusFen },
      { account: contra, amount: amountFen },
    ];
  } catch (error) {
    if (!(error instanceof InsufficientStoredValueError)) throw error;
    throw insufficientBalance(error.availableFen, error.neededFen);
  }
}

export function insufficientBalance(availableFen: number, neededFen: number) {
  return ledgerErrors.INSUFFICIENT_BALANCE({
    zh: `储值余额不足：余额 ${formatFen(availableFen)}，需要 ${formatFen(neededFen)}`,
    en: `Not enough stored value: the balance is ${formatFen(availableFen)} but ${formatFen(neededFen)} is needed`,
  });
}

export function insufficientPoints(available: number, needed: number) {
  return ledgerErrors.INSUFFICIENT_POINTS({
    zh: `积分不足：会员有 ${available} 分，需要 ${needed} 分`,
    en: `Not enough points: the member has ${available} but ${needed} are needed`,
  });
}

/** Points given by a rule (check-in, referral, a sale): the member's points against points_issued. */
export function awardLegs(points: number): Leg[] {
  return [
    { account: 'points', amount: points },
    { account: systemAccounts.pointsIssued(), amount: -points },
  ];
}

/** Points spent on something (a catalog item, a coupon): the member's points to points_redeemed. */
export function pointsSpendLegs(points: number): Leg[] {
  return [
    { account: 'points', amount: -points },
    { account: systemAccounts.pointsRedeemed(), amount: points },
  ];
}
