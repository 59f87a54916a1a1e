/**
 * A rule-given points credit (check-in, referral): the member's points account against points_issued, in a
 * lot that expires by the program's expiry policy counted from the instant of the award.
 */
import { pointsExpireAt } from '../../shared/rules/points-expiry.ts';
import type { ProgramRules } from '../../shared/rules/program.ts';
import { systemAccounts } from '../ledger/accounts.ts';
import type { Leg, TransactionRequest } from '../ledger/posting.ts';

export function awardLegs(points: number): Leg[] {
  return [
    { account: 'points', amount: points },
    { account: systemAccounts.pointsIssued(), amount: -points },
  ];
}

export function awardLots(rules: ProgramRules, at: Date): NonNullable<TransactionRequest['pointsLots']> {
  return { expiresAt: pointsExpireAt(rules.pointsExpiry, at) };
}
