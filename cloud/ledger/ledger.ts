import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import { systemAccounts } from './accounts.ts';
import {
  type BindCardInput,
  type CreateMemberInput,
  bindCard,
  createMember,
  findMemberByCard,
  findMemberByCardNumber,
  getMember,
} from './members.ts';
import { NEVER_EXPIRE, pointsExpireAt, type PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { type SpendingOrder, isSpendingOrder } from '../../shared/rules/stored-value.ts';
import { priceTopUp, type TopUpBonusRule, type TopUpPrice } from '../../shared/rules/topup-bonus.ts';
import { RuleSetError } from '../../shared/rules/errors.ts';
import { LedgerError } from './errors.ts';
import {
  type PostedTransaction,
  type TransactionKind,
  type TransactionRequest,
  postTransaction,
  storedValueSpendLegs,
} from './posting.ts';
import { type ExpiryOptions, type ExpiryRun, expirePoints, pointsExpiringSoon, pointsLots } from './points-expiry-job.ts';
import { type RefundInput, type RefundResult, refund } from './refunds.ts';
import { type StatementEntry, statement } from './statement.ts';
import type { Actor, MemberView } from './types.ts';
import { actorOf, cardUidOf, deviceOf, fenOf, idempotencyKeyOf, memberIdOf, pointsOf, textOf } from './validate.ts';

/** What every value-moving request carries, whoever sends it. */
export interface MovementInput {
  /** Unique per intended change; a device uses its outbox txId. Replays return the first result. */
  idempotencyKey: string;
  memberId: string;
  actor: Actor;
  /** The card presented, when there was one: it must belong to the member and becomes the snapshot's card. */
  cardUid?: string;
  /** Set together when a kiosk recorded the change. */
  deviceId?: string;
  deviceSeq?: number;
  /** The store where it happened (for cross-store settlement). */
  storeId?: string;
}

/** A top-up or a payment. */
export interface StoredValueInput extends MovementInput {
  amountFen: number;
  reason?: string;
}

export interface TopUpInput extends StoredValueInput {
  /** The top-up bonus rules in force (充100送20 …); absent = no bonus. */
  bonusRules?: readonly TopUpBonusRule[];
  /** When the top-up happened (a kiosk's occurredAt): picks the active rules and dates the points. Default now. */
  at?: Date;
  /** Expiry of the bonus points' lot; default never. */
  pointsExpiry?: PointsExpiryPolicy;
}

export interface TopUpResult extends PostedTransaction {
  /** Principal, bonus, bonus points and the rule that applied (ruleId null: no bracket reached). */
  topUp: TopUpPrice;
}

export interface PaymentInput extends StoredValueInput {
  /** Which of principal and bonus pays first; default principal_first. */
  spendingOrder?: SpendingOrder;
}

export interface AdjustPointsInput extends MovementInput {
  /** Positive grants points, negative takes them back. */
  points: number;
  reason: string;
  /** Expiry of granted points' lot, counted from now; default never. */
  pointsExpiry?: PointsExpiryPolicy;
}

export interface RedeemPointsInput extends MovementInput {
  points: number;
  /** What the member gets for the points, e.g. "Coffee voucher". */
  item: string;
}

/**
 * The hub's membership ledger: members, cards and every movement of stored value and points.
 * All inputs are validated here (not only at the REST edge), every refusal is a rejected LedgerError (never
 * a synchronous throw), and every change records its actor and reason.
 */
export class Ledger {
  constructor(private readonly db: Database) {}

  async createMember(input: CreateMemberInput): Promise<MemberView> {
    return createMember(this.db, input);
  }

  async bindCard(input: BindCardInput): Promise<{ member: MemberSnapshot; alreadyBound: boolean }> {
    return bindCard(this.db, input);
  }

  async findMemberByCard(cardUid: string): Promise<MemberSnapshot | undefined> {
    return findMemberByCard(this.db, cardUid);
  }

  /** For a magnetic-stripe swipe (or a typed number), which gives only the card number. */
  async findMemberByCardNumber(cardNumber: string): Promise<MemberSnapshot | undefined> {
    return findMemberByCardNumber(this.db, cardNumber);
  }

  async getMember(memberId: string): Promise<MemberView> {
    return getMember(this.db, memberId);
  }

  async statement(memberId: string, options?: { limit?: number }): Promise<{ memberId: string; entries: StatementEntry[] }> {
    return statement(this.db, memberId, options);
  }

  /**
   * Cash handed over at a kiosk or counter becomes stored-value principal; the best active top-up bonus
   * bracket at `at` adds bonus (contra bonus_issued) and bonus points (contra points_issued, in a new lot) —
   * all in one transaction. A kiosk sends the instant it took the cash, so an offline top-up replayed later
   * gets the bonus the member was shown.
   */
  async topUpCash(input: TopUpInput): Promise<TopUpResult> {
    const amount = fenOf(input.amountFen);
    const at = input.at ?? new Date();
    const price = ruleResult(() => priceTopUp(input.bonusRules ?? [], amount, at));
    const expiresAt = ruleResult(() => pointsExpireAt(input.pointsExpiry ?? NEVER_EXPIRE, at));
    const posted = await this.post(input, 'cash_topup', input.reason ?? 'Cash top-up', {
      legs: [
        { account: 'stored_principal', amount },
        { account: systemAccounts.cashReceived(input.deviceId), amount: -amount },
        { account: 'stored_bonus', amount: price.bonusFen },
        { account: systemAccounts.bonusIssued(), amount: -price.bonusFen },
        { account: 'points', amount: price.bonusPoints },
        { account: systemAccounts.pointsIssued(), amount: -price.bonusPoints },
      ],
      pointsLots: { expiresAt },
      intent: { ruleId: price.ruleId },
    });
    return { ...posted, topUp: price };
  }

  /**
   * Pays from stored value, split between principal and bonus by the spending order, computed from the
   * balances read under the member lock (a concurrent payment cannot make the split wrong).
   */
  async payWithStoredValue(input: PaymentInput): Promise<PostedTransaction> {
    const amount = fenOf(input.amountFen);
    const order = input.spendingOrder ?? 'principal_first';
    if (!isSpendingOrder(order)) throw new LedgerError('INVALID_INPUT', 'spendingOrder must be principal_first, bonus_first or proportional.');
    return this.post(input, 'stored_value_payment', input.reason ?? 'Stored-value payment', {
      legs: (balances) => storedValueSpendLegs(order, balances, amount, systemAccounts.storedValueSpent()),
      intent: { amountFen: amount, order },
    });
  }

  /** Reverses an earlier transaction exactly once (see refunds.ts for the rules). */
  async refund(input: RefundInput): Promise<RefundResult> {
    return refund(this.db, input);
  }

  async pointsLots(memberId: string): ReturnType<typeof pointsLots> {
    return pointsLots(this.db, memberId);
  }

  async pointsExpiringSoon(memberId: string, withinDays: number, asOf?: Date): ReturnType<typeof pointsExpiringSoon> {
    return pointsExpiringSoon(this.db, memberId, withinDays, asOf);
  }

  async expirePoints(options?: ExpiryOptions): Promise<ExpiryRun> {
    return expirePoints(this.db, options);
  }

  /** A manual correction by staff or a system job; the reason is mandatory because nothing else explains it. */
  async adjustPoints(input: AdjustPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: true });
    const expiresAt = ruleResult(() => pointsExpireAt(input.pointsExpiry ?? NEVER_EXPIRE, new Date()));
    return this.post(input, 'points_adjustment', textOf(input.reason, 'reason', 200), {
      legs: [
        { account: 'points', amount: points },
        { account: systemAccounts.pointsIssued(), amount: -points },
      ],
      pointsLots: { expiresAt },
    });
  }

  async redeemPoints(input: RedeemPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: false });
    return this.post(input, 'points_redemption', `Redeemed: ${textOf(input.item, 'item', 100)}`, {
      legs: [
        { account: 'points', amount: -points },
        { account: systemAccounts.pointsRedeemed(), amount: points },
      ],
    });
  }

  private async post(
    input: MovementInput,
    kind: TransactionKind,
    reason: string,
    posting: Pick<TransactionRequest, 'legs' | 'pointsLots' | 'intent'>,
  ): Promise<PostedTransaction> {
    return postTransaction(this.db, {
      kind,
      idempotencyKey: idempotencyKeyOf(input.idempotencyKey),
      memberId: memberIdOf(input.memberId),
      actor: actorOf(input.actor),
      reason: textOf(reason, 'reason', 200),
      ...(input.cardUid === undefined ? {} : { cardUid: cardUidOf(input.cardUid) }),
      ...deviceOf(input.deviceId, input.deviceSeq),
      // An unknown store is refused by the foreign key (STORE_NOT_FOUND).
      ...(input.storeId === undefined ? {} : { storeId: textOf(input.storeId, 'storeId', 40) }),
      ...posting,
    });
  }
}

/** A rule evaluation that rejects its input (bad rules, bad instant) is the caller's bad input: nothing is posted. */
function ruleResult<T>(evaluate: () => T): T {
  try {
    return evaluate();
  } catch (error) {
    if (error instanceof LedgerError) throw error;
    throw new LedgerError(error instanceof RuleSetError ? 'RULES_INVALID' : 'INVALID_INPUT', (error as Error).message);
  }
}
