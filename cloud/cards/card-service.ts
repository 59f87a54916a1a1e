import {
  CARD_ACTIONS,
  type CardAction,
  type CardFeeSchedule,
  type CardPerformer,
  type CardStatus,
  DEFAULT_CARD_FEE_SCHEDULE,
  REPLACEMENT_REASONS,
  type ReplacementReason,
  cardFee,
  checkCardAction,
  mayHaveSupplementary,
  validateCardFeeSchedule,
} from '../../shared/rules/cards.ts';
import type { Database, Queryable } from '../db/database.ts';
import { cardNumberOf, cardUidOf, fenOf, memberIdOf, type Ledger, type MemberView } from '../ledger/index.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, idempotencyKeyOf, invalid, textOf } from '../kernel/input.ts';
import type { Role } from '../kernel/principal.ts';
import { type CardEventView, listCardEvents, recordCardEvent } from './card-events.ts';
import { type CardFeeView, assertFeeNotRecorded, recordCardFee } from './card-fees.ts';
import { cardRefusalError, localCalendarOf } from './card-guard.ts';
import { type CardView, activeSupplementaryUids, insertCard, readCard, relinkSupplementaries, setCardStatus } from './card-records.ts';
import { runCardRequest } from './card-requests.ts';
import { cardErrors } from './errors.ts';

/** Every operator role is a performer the card rules know: this fails to compile if a role is added there only. */
const asPerformer = (role: Role | 'member'): CardPerformer => role;

/** What every card change carries. */
export interface CardChangeInput {
  cardUid: string;
  /** Unique per intended change; a retry with the same key returns the first result. */
  idempotencyKey: string;
  reason: string;
  actor: Actor;
  /** Who asks, for the rules' permission table: 'member' for the member themself, else the operator's role. */
  by: Role | 'member';
  /** Where it happens: the fee is booked to this store, and its calendar decides the fee year. */
  storeId?: string;
}

export interface ReplaceCardInput extends CardChangeInput {
  newCardUid: string;
  newCardNumber?: string;
  replacementReason: ReplacementReason;
}

/** Issuing is gated by role at the route (admins, managers, cashiers); the lifecycle table does not apply. */
export interface IssueSupplementaryInput extends Omit<CardChangeInput, 'cardUid' | 'by'> {
  memberId: string;
  primaryCardUid: string;
  cardUid: string;
  cardNumber?: string;
  holderName: string;
  dailyLimitFen?: number;
}

export interface ChargeFeeInput extends Omit<CardChangeInput, 'by'> {
  kind: 'joining' | 'annual';
  /** The instant whose local year an annual fee is for; default now (the annual-fee job passes its run's asOf). */
  asOf?: Date;
}

/**
 * The price list a card change is charged by: a fixed schedule, or where to read the one in force (the hub's
 * published program rules), asked once per change.
 */
export type FeeScheduleSource = CardFeeSchedule | (() => Promise<CardFeeSchedule>);

/** The outcome of a card change; `replay` when the key was used before (nothing new happened). */
export interface CardChange {
  /** The card acted on, after the change. */
  card: CardView;
  /** The member after the change: balances (less any fee) and version. */
  member: MemberView;
  fee?: CardFeeView;
  /** replace: the new card. */
  replacement?: CardView;
  /** replace: supplementary cards now linked to the new card. */
  relinkedCardUids?: string[];
  replay: boolean;
}

export type StatusAction = Exclude<CardAction, 'replace'>;

const STATUS_ACTIONS: readonly string[] = CARD_ACTIONS.filter((action) => action !== 'replace');

interface Checked {
  card: CardView;
  to: CardStatus;
}

/**
 * The card lifecycle on the hub (rules: shared/rules/cards.ts): report loss, cancel loss, freeze,
 * unfreeze, cancel, replace, supplementary cards and fees. Every change is idempotent, records actor and
 * reason in card_events, and commits together with its fee (cloud/cards/card-requests.ts).
 */
export class CardService {
  private readonly feeSchedule: () => Promise<CardFeeSchedule>;

  constructor(
    private readonly db: Database,
    private readonly ledger: Ledger,
    options: { feeSchedule?: FeeScheduleSource } = {},
  ) {
    const source = options.feeSchedule ?? DEFAULT_CARD_FEE_SCHEDULE;
    if (typeof source === 'function') {
      // A schedule read later is checked as it is read: published rules were validated, but a bad one must not be charged by.
      this.feeSchedule = async () => {
        const schedule = await source();
        validateCardFeeSchedule(schedule);
        return schedule;
      };
    } else {
      validateCardFeeSchedule(source);
      this.feeSchedule = async () => source;
    }
  }

  /** The member after a change to one of their cards, showing that card. */
  private async memberOf(tx: Queryable, card: CardView): Promise<MemberView> {
    return (await this.ledger.readMember(tx, card.memberId, card.cardUid))!;
  }

  async getCard(cardUid: string): Promise<CardView> {
    return readCard(this.db, cardUidOf(cardUid));
  }

  async events(cardUid: string): Promise<CardEventView[]> {
    const card = await this.getCard(cardUid);
    return listCardEvents(this.db, card.cardUid);
  }

  /** report_loss, cancel_loss, freeze, unfreeze or cancel: one status change, no fee. */
  async changeStatus(action: StatusAction, input: CardChangeInput): Promise<CardChange> {
    if (!STATUS_ACTIONS.includes(action)) throw invalid(`未知的卡片操作「${String(action)}」`, `Unknown card action "${String(action)}"`);
    const by = performerOf(input);
    const common = commonOf(input);
    const current = await readCard(this.db, common.cardUid);
    return runCardRequest<Checked, Omit<CardChange, 'replay'>>(
      this.ledger,
      { ...common.request, memberId: current.memberId, intent: { action, cardUid: common.cardUid }, feeFen: 0 },
      {
        check: (tx) => checkedChange(tx, common.cardUid, action, by),
        apply: async (tx, { card, to }) => {
          const changed = await setCardStatus(tx, card.cardUid, to);
          await recordCardEvent(tx, { ...eventBase(card, common.request), action, fromStatus: card.status, toStatus: changed.status });
          return { card: changed, member: await this.memberOf(tx, card) };
        },
      },
    );
  }

  /**
   * Replaces a lost or damaged card with a new one bound to the same member: balances stay on the member,
   * so they move with it; the old card becomes 'replaced'; supplementary cards of the old card are re-linked
   * to the new one. The replacement fee (by card type; waived for VIP and defective cards) is taken from
   * stored value in the same transaction.
   */
  async replace(input: ReplaceCardInput): Promise<CardChange> {
    const by = performerOf(input);
    const common = commonOf(input);
    const newCardUid = cardUidOf(input.newCardUid);
    const newCardNumber = input.newCardNumber === undefined ? undefined : cardNumberOf(input.newCardNumber);
    if (!REPLACEMENT_REASONS.includes(input.replacementReason)) {
      throw invalid(`replacementReason 须为 ${REPLACEMENT_REASONS.join('、')} 之一`, `replacementReason must be one of ${REPLACEMENT_REASONS.join(', ')}`);
    }
    const current = await readCard(this.db, common.cardUid);
    const quote = cardFee(await this.feeSchedule(), current.type, 'replacement', input.replacementReason);
    return runCardRequest<Checked, Omit<CardChange, 'replay'>>(
      this.ledger,
      {
        ...common.request,
        memberId: current.memberId,
        intent: { action: 'replace', cardUid: common.cardUid, newCardUid, newCardNumber, replacementReason: input.replacementReason },
        feeFen: quote.amountFen,
      },
      {
        check: (tx) => checkedChange(tx, common.cardUid, 'replace', by),
        apply: async (tx, { card }, feeTxId) => {
          const base = eventBase(card, common.request);
          const replacement = await insertCard(tx, {
            cardUid: newCardUid,
            ...(newCardNumber === undefined ? {} : { cardNumber: newCardNumber }),
            memberId: card.memberId,
            type: card.type,
            ...(card.primaryCardUid === undefined ? {} : { primaryCardUid: card.primaryCardUid }),
            ...(card.holderName === undefined ? {} : { holderName: card.holderName }),
            ...(card.dailyLimitFen === undefined ? {} : { dailyLimitFen: card.dailyLimitFen }),
            actor: common.request.actor,
          });
          const replaced = await setCardStatus(tx, card.cardUid, 'replaced', newCardUid);
          await recordCardEvent(tx, { ...base, action: 'replace', fromStatus: card.status, toStatus: 'replaced', relatedCardUid: newCardUid });
          await recordCardEvent(tx, { ...base, cardUid: newCardUid, action: 'issue', toStatus: 'active', relatedCardUid: card.cardUid });
          const relinked = await relinkSupplementaries(tx, card.cardUid, newCardUid);
          for (const supplementary of relinked) {
            await recordCardEvent(tx, {
              ...base,
              cardUid: supplementary.cardUid,
              action: 'relink',
              fromStatus: supplementary.status,
              toStatus: supplementary.status,
              relatedCardUid: newCardUid,
            });
          }
          const fee = await recordCardFee(tx, { ...feeBase(card, common.request, feeTxId), period: 'once', quote });
          return {
            card: replaced,
            replacement,
            relinkedCardUids: relinked.map((supplementary) => supplementary.cardUid),
            fee,
            member: (await this.ledger.readMember(tx, card.memberId, newCardUid))!,
          };
        },
      },
    );
  }

  /**
   * A supplementary card (副卡) for someone else, linked to one of the member's cards and spending the
   * member's balances, optionally capped per day. Its joining fee is taken from stored value.
   */
  async issueSupplementary(input: IssueSupplementaryInput): Promise<CardChange> {
    const common = commonOf(input);
    const memberId = memberIdOf(input.memberId);
    const primaryCardUid = cardUidOf(input.primaryCardUid);
    const cardNumber = input.cardNumber === undefined ? undefined : cardNumberOf(input.cardNumber);
    const holderName = textOf(input.holderName, 'holderName', 64);
    const dailyLimitFen = input.dailyLimitFen === undefined ? undefined : fenOf(input.dailyLimitFen);
    const quote = cardFee(await this.feeSchedule(), 'supplementary', 'joining');
    return runCardRequest<CardView, Omit<CardChange, 'replay'>>(
      this.ledger,
      {
        ...common.request,
        memberId,
        intent: { action: 'issue_supplementary', primaryCardUid, cardUid: common.cardUid, cardNumber, holderName, dailyLimitFen },
        feeFen: quote.amountFen,
      },
      {
        check: async (tx) => {
          const primary = await readCard(tx, primaryCardUid, { lock: true });
          if (primary.memberId !== memberId) throw cardErrors.CARD_NOT_FOUND({ zh: '主卡不是该会员的卡', en: 'The primary card is not a card of this member' });
          const refusal = mayHaveSupplementary(primary);
          if (refusal) throw cardRefusalError(refusal);
          return primary;
        },
        apply: async (tx, primary, feeTxId) => {
          const card = await insertCard(tx, {
            cardUid: common.cardUid,
            ...(cardNumber === undefined ? {} : { cardNumber }),
            memberId,
            type: 'supplementary',
            primaryCardUid: primary.cardUid,
            holderName,
            ...(dailyLimitFen === undefined ? {} : { dailyLimitFen }),
            actor: common.request.actor,
          });
          await recordCardEvent(tx, { ...eventBase(card, common.request), action: 'issue', toStatus: 'active', relatedCardUid: primary.cardUid });
          const fee = await recordCardFee(tx, { ...feeBase(card, common.request, feeTxId), period: 'once', quote });
          return { card, fee, member: await this.memberOf(tx, card) };
        },
      },
    );
  }

  /**
   * Charges a card's joining fee (once) or annual fee (once per local year of the store) from stored value;
   * a free or waived fee is recorded without a ledger transaction. A card that is cancelled or replaced owes
   * nothing more.
   */
  async chargeFee(input: ChargeFeeInput): Promise<CardChange> {
    const common = commonOf(input);
    if (input.kind !== 'joining' && input.kind !== 'annual') throw invalid('kind 须为 joining（开卡费）或 annual（年费）', 'kind must be joining or annual');
    const asOf = input.asOf ?? new Date();
    if (!(asOf instanceof Date) || !Number.isSafeInteger(asOf.getTime())) throw invalid('asOf 须为有效的时间', 'asOf must be a valid instant');
    const current = await readCard(this.db, common.cardUid);
    const quote = cardFee(await this.feeSchedule(), current.type, input.kind);
    const period = input.kind === 'annual' ? (await localCalendarOf(this.db, common.request.storeId, asOf)).year : 'once';
    return runCardRequest<CardView, Omit<CardChange, 'replay'>>(
      this.ledger,
      { ...common.request, memberId: current.memberId, intent: { action: 'fee', cardUid: common.cardUid, kind: input.kind, period }, feeFen: quote.amountFen },
      {
        check: async (tx) => {
          const card = await readCard(tx, common.cardUid, { lock: true });
          if (card.status === 'cancelled' || card.status === 'replaced') {
            throw cardErrors.CARD_INVALID_STATE({ zh: '此卡已失效，不再收费', en: 'This card is no longer in use, so no fee is due' });
          }
          await assertFeeNotRecorded(tx, card.cardUid, input.kind, period);
          return card;
        },
        apply: async (tx, card, feeTxId) => ({
          card,
          fee: await recordCardFee(tx, { ...feeBase(card, common.request, feeTxId), period, quote }),
          member: await this.memberOf(tx, card),
        }),
      },
    );
  }
}

/** Validates what every request carries, before any SQL. */
function commonOf(input: Omit<CardChangeInput, 'by'>) {
  return {
    cardUid: cardUidOf(input.cardUid),
    request: {
      idempotencyKey: idempotencyKeyOf(input.idempotencyKey),
      actor: actorOf(input.actor),
      reason: textOf(input.reason, 'reason', 200),
      ...(input.storeId === undefined ? {} : { storeId: textOf(input.storeId, 'storeId', 40) }),
    },
  };
}

/**
 * Who asks for a lifecycle change, checked against the actor it is recorded under: the member acts for
 * themself (in person, or at a kiosk: a device actor), an operator by their role.
 */
function performerOf(input: CardChangeInput): CardPerformer {
  const by = asPerformer(input.by);
  const type = input.actor?.type;
  const consistent = by === 'member' ? type === 'member' || type === 'device' : type === 'operator';
  if (!consistent) {
    throw invalid(`由「${String(by)}」提出的更改不能记在 ${String(type)} 名下`, `A change by "${String(by)}" cannot be recorded as made by a ${String(type)}`);
  }
  return by;
}

/** Locks the card and refuses the action unless the rules allow it from the card's current state. */
async function checkedChange(tx: Queryable, cardUid: string, action: CardAction, by: CardPerformer): Promise<Checked> {
  const card = await readCard(tx, cardUid, { lock: true });
  const activeSupplementaries = action === 'cancel' ? (await activeSupplementaryUids(tx, cardUid)).length : 0;
  const check = checkCardAction({ type: card.type, status: card.status, activeSupplementaries }, action, by);
  if (!check.ok) throw cardRefusalError(check.refusal);
  return { card, to: check.to };
}

function eventBase(card: CardView, request: { actor: Actor; reason: string }) {
  return { cardUid: card.cardUid, memberId: card.memberId, actor: request.actor, reason: request.reason };
}

function feeBase(card: CardView, request: { actor: Actor; reason: string }, txId: string | undefined) {
  return { cardUid: card.cardUid, memberId: card.memberId, actor: request.actor, reason: request.reason, txId };
}
