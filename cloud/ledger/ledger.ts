import { NEVER_EXPIRE, pointsExpireAt, type PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { type SpendingOrder, isSpendingOrder } from '../../shared/rules/stored-value.ts';
import { priceTopUp, type TopUpBonusRule, type TopUpPrice } from '../../shared/rules/topup-bonus.ts';
import { type BatchPostingOutcome, type CreditRequest, postCreditBatch } from './batch-posting.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { RuleSetError } from '../../shared/rules/errors.ts';
import { HubError, kernelErrors, refusalOf } from '../kernel/errors.ts';
import { invalid, textOf } from '../kernel/input.ts';
import type { DeclaredCode } from '../kernel/access.ts';
import type { Reverser, ReverserDeclaration } from '../kernel/module.ts';
import { systemAccounts } from './accounts.ts';
import { type IdempotentRequest, type OnceResult, earlierResult, once, onceWithin } from './idempotency.ts';
import { type Leg, pointsSpendLegs, storedValueSpendLegs } from './legs.ts';
import { type CreateMemberInput, createMember, getMember, readMember } from './members.ts';
import { type ExpiryOptions, type ExpiryRun, expirePoints, pointsExpiringSoon, pointsLots } from './points-expiry-job.ts';
import type { LedgerPorts } from './ports.ts';
import { type PostedTransaction, type TransactionRequest, fingerprintOf, postWithin, validRequest } from './posting.ts';
import { type RefundInput, type RefundResult, originalOf, refundRequest } from './refunds.ts';
import { type StatementEntry, statement } from './statement.ts';
import type { MemberView } from './types.ts';
import { fenOf, pointsOf } from './validate.ts';

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

/** The ledger's own transactions change nothing beyond the ledger: their refund is the money alone. */
const MONEY_ONLY: Reverser = async () => {};

/**
 * The hub's membership ledger: members and every movement of stored value and points, each a double-entry
 * transaction applied exactly once per idempotency key. Every input is validated here (not only at the REST
 * edge), every refusal is a rejected HubError (never a synchronous throw), and every change records its actor,
 * its reason and the module that owns it. What it needs of the cards and the program it asks through `ports`.
 */
export class Ledger {
  private readonly reversers = new Map<string, ReverserDeclaration>([['ledger', { reverse: MONEY_ONLY, refusals: [] }]]);
  private readonly view = (q: Queryable, memberId: string, usedCardUid?: string) => readMember(q, this.ports, memberId, usedCardUid);

  constructor(
    private readonly db: Database,
    private readonly ports: LedgerPorts,
  ) {}

  /** How the refund of a module's transactions reverses their effects (the hub registers each module's). */
  reverseTransactionsOf(owner: string, reverser: ReverserDeclaration): void {
    if (this.reversers.has(owner)) throw new Error(`transactions of ${owner} already have a reverser`);
    this.reversers.set(owner, reverser);
  }

  /** Every code a refund may be refused with by the owners' reversers (for the routes that refund anything). */
  reverserRefusals(): DeclaredCode[] {
    const byCode = new Map([...this.reversers.values()].flatMap(({ refusals }) => refusals.map((refusal) => [refusal.code, refusal] as const)));
    return [...byCode.values()];
  }

  async createMember(input: CreateMemberInput): Promise<MemberView> {
    return createMember(this.db, this.ports, input);
  }

  async getMember(memberId: string): Promise<MemberView> {
    return getMember(this.db, this.ports, memberId);
  }

  /** The member as of `q` (inside a transaction: as it wrote them), with the card used if any; undefined when unknown. */
  async readMember(q: Queryable, memberId: string, usedCardUid?: string): Promise<MemberView | undefined> {
    return this.view(q, memberId, usedCardUid);
  }

  async statement(memberId: string, options?: { limit?: number }): Promise<{ memberId: string; entries: StatementEntry[] }> {
    return statement(this.db, memberId, options);
  }

  /**
   * Runs `work` once per idempotency key, in one database transaction with the key's claim (idempotency.ts): the
   * way every module makes a change idempotent. Inside, post with postWithin (under the claimed key) and take the
   * member lock with lockMember.
   */
  async once<R>(request: IdempotentRequest, work: (tx: Queryable) => Promise<R>): Promise<OnceResult<R>> {
    return once(this.db, request, work);
  }

  /**
   * The result a key was first used for, or undefined when it is new; IDEMPOTENCY_CONFLICT when it was used for
   * another request. For an owner that must answer a retry before it reads anything else (a sale whose coupon its
   * first attempt used up).
   */
  async earlierResult<R>(request: IdempotentRequest): Promise<R | undefined> {
    return earlierResult<R>(this.db, request);
  }

  /** Posts a transaction exactly once per its idempotency key, in a database transaction of its own (posting.ts). */
  async post<C = undefined, O = undefined>(request: TransactionRequest<C, O>): Promise<PostedTransaction<O>> {
    return this.db.transaction((tx) => this.postIn(tx, request));
  }

  /**
   * Posts exactly once per idempotency key inside the caller's database transaction (a follow-up consumed from the
   * outbox posts in the transaction that consumes it). Postings of several members in one transaction must be
   * made in member-id order, so two such transactions never wait on each other's member locks.
   */
  async postIn<C = undefined, O = undefined>(tx: Queryable, request: TransactionRequest<C, O>): Promise<PostedTransaction<O>> {
    const valid = validRequest(request);
    const claim = { key: valid.idempotencyKey, owner: valid.owner, fingerprint: valid.fingerprint ?? fingerprintOf(valid), memberId: valid.memberId };
    const { result, replay } = await onceWithin(tx, claim, (claimed) => postWithin(claimed, this.ports, this.view, valid));
    return { txId: result.txId, replay, member: result.member, outcome: result.outcome as O };
  }

  /**
   * Cash handed over at a kiosk or counter becomes stored-value principal; the best active top-up bonus
   * bracket at `at` adds bonus (contra bonus_issued) and bonus points (contra points_issued, in a new lot) —
   * all in one transaction. A kiosk sends the instant it took the cash, so an offline top-up replayed later
   * gets the bonus the member was shown.
   */
  async topUpCash(input: TopUpInput): Promise<TopUpResult> {
    const { request, price } = this.topUpRequest(input);
    return { ...(await this.post(request)), topUp: price };
  }

  /**
   * Many top-ups inside the caller's database transaction (a batch of kiosk top-ups), posted together with a few
   * statements for all of them (batch-posting.ts); one outcome per input, in order: posted, refused (nothing of it
   * written) or deferred (its key came earlier in the batch: post it again in the next one, where it replays).
   */
  async topUpCashBatch(tx: Queryable, inputs: readonly TopUpInput[]): Promise<Array<{ status: 'posted'; posted: TopUpResult } | Exclude<BatchPostingOutcome, { status: 'posted' }>>> {
    const built = inputs.map((input) => {
      try {
        return this.topUpRequest(input);
      } catch (error) {
        if (!refusalOf(error)) throw error;
        return { error };
      }
    });
    const requests = built.flatMap((b) => ('request' in b ? [b.request] : []));
    const posted = await postCreditBatch(tx, this.ports, requests);
    let next = 0;
    return built.map((b) => {
      if (!('request' in b)) return { status: 'refused', error: b.error };
      const outcome = posted[next++]!;
      return outcome.status === 'posted' ? { status: 'posted', posted: { ...outcome.posted, topUp: b.price } } : outcome;
    });
  }

  /**
   * A cash top-up as a credit request: cash handed over at a kiosk or counter becomes stored-value principal; the
   * best active top-up bonus bracket at `at` adds bonus (contra bonus_issued) and bonus points (contra
   * points_issued, in a new lot). Bad input throws its refusal.
   */
  private topUpRequest(input: TopUpInput): { request: CreditRequest; price: TopUpPrice } {
    const amount = fenOf(input.amountFen);
    const at = input.at ?? new Date();
    const price = ruleResult(() => priceTopUp(input.bonusRules ?? [], amount, at));
    const expiresAt = ruleResult(() => pointsExpireAt(input.pointsExpiry ?? NEVER_EXPIRE, at));
    const request = this.movement(input, 'cash_topup', input.reason ?? 'Cash top-up', {
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
    return { request: { ...request, legs: request.legs as Leg[], pointsLots: { expiresAt } }, price };
  }

  /**
   * Pays from stored value, split between principal and bonus by the spending order, computed from the
   * balances read under the member lock (a concurrent payment cannot make the split wrong). The spend counts
   * towards the member's tier in the same transaction (the program decides how).
   */
  async payWithStoredValue(input: PaymentInput): Promise<PostedTransaction> {
    const amount = fenOf(input.amountFen);
    const order = input.spendingOrder ?? 'principal_first';
    if (!isSpendingOrder(order)) throw invalid('spendingOrder 须为 principal_first、bonus_first 或 proportional', 'spendingOrder must be principal_first, bonus_first or proportional');
    return this.post(
      this.movement(input, 'stored_value_payment', input.reason ?? 'Stored-value payment', {
        legs: (balances) => ({ legs: storedValueSpendLegs(order, balances, amount, systemAccounts.storedValueSpent()), context: undefined }),
        intent: { amountFen: amount, order },
        effects: async (tx, { txId }) => {
          // Judged now, after the payment's posting time, so the window includes it.
          await this.ports.tiers.onStoredValueSpend(tx, { memberId: input.memberId, txId, at: new Date(), actor: input.actor });
          return undefined;
        },
      }),
    );
  }

  /** Reverses an earlier transaction exactly once, with its effects beyond the ledger (refunds.ts). */
  async refund(input: RefundInput): Promise<RefundResult> {
    const original = await originalOf(this.db, input.originalTxId);
    const posted = await this.post(refundRequest(input, original, (owner) => this.reversers.get(owner)?.reverse));
    return { ...posted, originalTxId: original.id };
  }

  async pointsLots(memberId: string): ReturnType<typeof pointsLots> {
    return pointsLots(this.db, memberId);
  }

  async pointsExpiringSoon(memberId: string, withinDays: number, asOf?: Date): ReturnType<typeof pointsExpiringSoon> {
    return pointsExpiringSoon(this.db, memberId, withinDays, asOf);
  }

  async expirePoints(options?: ExpiryOptions): Promise<ExpiryRun> {
    return expirePoints(this.db, this, options);
  }

  /** A manual correction by staff or a system job; the reason is mandatory because nothing else explains it. */
  async adjustPoints(input: AdjustPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: true });
    const expiresAt = ruleResult(() => pointsExpireAt(input.pointsExpiry ?? NEVER_EXPIRE, new Date()));
    return this.post(
      this.movement(input, 'points_adjustment', textOf(input.reason, 'reason', 200), {
        legs: [
          { account: 'points', amount: points },
          { account: systemAccounts.pointsIssued(), amount: -points },
        ],
        pointsLots: { expiresAt },
      }),
    );
  }

  async redeemPoints(input: RedeemPointsInput): Promise<PostedTransaction> {
    const points = pointsOf(input.points, { allowNegative: false });
    return this.post(this.movement(input, 'points_redemption', `Redeemed: ${textOf(input.item, 'item', 100)}`, { legs: pointsSpendLegs(points) }));
  }

  /** A movement of the ledger's own, from its input. */
  private movement<C>(
    input: MovementInput,
    kind: TransactionRequest['kind'],
    reason: string,
    posting: Pick<TransactionRequest<C>, 'legs' | 'pointsLots' | 'intent' | 'effects'>,
  ): TransactionRequest<C> {
    return {
      kind,
      owner: 'ledger',
      idempotencyKey: input.idempotencyKey,
      memberId: input.memberId,
      actor: input.actor,
      reason,
      ...(input.cardUid === undefined ? {} : { cardUid: input.cardUid }),
      ...(input.deviceId === undefined ? {} : { deviceId: input.deviceId }),
      ...(input.deviceSeq === undefined ? {} : { deviceSeq: input.deviceSeq }),
      ...(input.storeId === undefined ? {} : { storeId: input.storeId }),
      ...posting,
    };
  }
}

/** A rule evaluation that rejects its input (bad rules, bad instant) is the caller's bad input: nothing is posted. */
function ruleResult<T>(evaluate: () => T): T {
  try {
    return evaluate();
  } catch (error) {
    if (error instanceof HubError) throw error;
    const message = (error as Error).message;
    throw error instanceof RuleSetError ? kernelErrors.RULES_INVALID({ zh: '规则无效', en: message }) : invalid('规则无法计算这笔交易', message);
  }
}
