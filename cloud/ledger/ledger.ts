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
import { type Leg, type PostedTransaction, type TransactionKind, postTransaction } from './posting.ts';
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
}

/** A top-up or a payment. */
export interface StoredValueInput extends MovementInput {
  amountFen: number;
  reason?: string;
}

export interface AdjustPointsInput extends MovementInput {
  /** Positive grants points, negative takes them back. */
  points: number;
  reason: string;
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

  /** Cash handed over at a kiosk or counter becomes stored-value principal. */
  async topUpCash(input: StoredValueInput): Promise<PostedTransaction> {
    const amount = fenOf(input.amountFen);
    return this.post(input, 'cash_topup', input.reason ?? 'Cash top-up', [
      { account: 'stored_principal', amount },
      { account: systemAccounts.cashReceived(input.deviceId), amount: -amount },
    ]);
  }

  /**
   * Pays from stored value. For now only principal is spent; the order in which bonus and principal are
   * used (and how refunds split them) comes with the rules engine in a later issue.
   */
  async payWithStoredValue(input: StoredValueInput): Promise<PostedTransaction> {
    const amount = fenOf(input.amountFen);
    return this.post(input, 'stored_value_payment', input.reason ?? 'Stored-value payment', [
      { account: 'stored_principal', amount: -amount },
      { account: systemAccounts.storedValueSpent(), amount },
    ]);
  }

  /** A manual correction by staff or a system job; the reason is mandatory because nothing else explains it. */
  async adjustPoints(input: AdjustPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: true });
    return this.post(input, 'points_adjustment', textOf(input.reason, 'reason', 200), [
      { account: 'points', amount: points },
      { account: systemAccounts.pointsIssued(), amount: -points },
    ]);
  }

  async redeemPoints(input: RedeemPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: false });
    return this.post(input, 'points_redemption', `Redeemed: ${textOf(input.item, 'item', 100)}`, [
      { account: 'points', amount: -points },
      { account: systemAccounts.pointsRedeemed(), amount: points },
    ]);
  }

  private async post(input: MovementInput, kind: TransactionKind, reason: string, legs: Leg[]): Promise<PostedTransaction> {
    return postTransaction(this.db, {
      kind,
      idempotencyKey: idempotencyKeyOf(input.idempotencyKey),
      memberId: memberIdOf(input.memberId),
      actor: actorOf(input.actor),
      reason: textOf(reason, 'reason', 200),
      ...(input.cardUid === undefined ? {} : { cardUid: cardUidOf(input.cardUid) }),
      ...deviceOf(input.deviceId, input.deviceSeq),
      legs,
    });
  }
}
