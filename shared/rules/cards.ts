/**
 * Member cards: what kinds there are, what state each is in, who may move it to another state, what it
 * costs, and what a blocked card tells the member. Pure: the hub enforces these rules; a kiosk may show the
 * same refusals. Balances belong to the member, never to a card, so every card of a member (and every
 * supplementary card linked to one of them) spends the same balances.
 */
import { formatFen, isFen } from '../money.ts';
import { assertNoProblems } from './errors.ts';

export const CARD_TYPES = ['personal', 'supplementary', 'group', 'vip'] as const;
/**
 * - personal: the member's own card;
 * - supplementary (副卡): held by someone else (family, staff), linked to a primary card of the member and
 *   spending the primary member's balances, optionally capped per day;
 * - group: a company or association card (its own fee schedule);
 * - vip: waived replacement and annual fees.
 */
export type CardType = (typeof CARD_TYPES)[number];

export const CARD_STATUSES = ['active', 'lost', 'frozen', 'cancelled', 'replaced'] as const;
/** Only an active card identifies a member or pays; cancelled and replaced are final. */
export type CardStatus = (typeof CARD_STATUSES)[number];

export const CARD_ACTIONS = ['report_loss', 'cancel_loss', 'freeze', 'unfreeze', 'replace', 'cancel'] as const;
export type CardAction = (typeof CARD_ACTIONS)[number];

/**
 * Who asks for a card change: the member themself (self-service), or an operator by role. The operator
 * roles are those of cloud/org/principal.ts (shared code cannot import the hub; cloud/cards asserts at
 * compile time that the two lists match).
 */
export type CardPerformer = 'member' | 'admin' | 'manager' | 'cashier' | 'technician';

/** A message for the member's screen or the clerk, in both languages. */
export interface Bilingual {
  readonly zh: string;
  readonly en: string;
}

export type CardRefusalCode = 'CARD_LOST' | 'CARD_FROZEN' | 'CARD_INVALID_STATE' | 'FORBIDDEN' | 'CARD_DAILY_LIMIT_EXCEEDED';

export interface CardRefusal extends Bilingual {
  readonly code: CardRefusalCode;
}

/** "中文 / English": how one bilingual text travels in a single error message. */
export function bilingualText({ zh, en }: Bilingual): string {
  return `${zh} / ${en}`;
}

interface Transition {
  readonly from: readonly CardStatus[];
  readonly to: CardStatus;
  readonly allowed: readonly CardPerformer[];
  /** The action in Chinese, and in English as "you may not …" and "this card cannot …". */
  readonly name: Bilingual & { readonly enPassive: string };
}

/**
 * The whole lifecycle. Why these choices:
 * - a member may report their own card lost (phone, app) — the one change that only ever protects them;
 *   undoing it needs a clerk who checks identity, since whoever found the card could otherwise undo it;
 * - freezing is a risk hold (dispute, suspected fraud), so only managers and admins set or lift it, and a
 *   frozen card cannot be reported lost, replaced or otherwise routed around the hold — only unfrozen or cancelled;
 * - a replacement is issued for a lost card or a damaged active one; the old card becomes 'replaced';
 * - cancelling is final and belongs to managers and admins;
 * - technicians look after kiosks, not members: they may do none of these.
 */
export const CARD_TRANSITIONS: Readonly<Record<CardAction, Transition>> = {
  report_loss: { from: ['active'], to: 'lost', allowed: ['member', 'admin', 'manager', 'cashier'], name: { zh: '挂失', en: 'report a card lost', enPassive: 'be reported lost' } },
  cancel_loss: { from: ['lost'], to: 'active', allowed: ['admin', 'manager', 'cashier'], name: { zh: '解挂', en: 'cancel a loss report', enPassive: 'have a loss report cancelled' } },
  freeze: { from: ['active'], to: 'frozen', allowed: ['admin', 'manager'], name: { zh: '冻结', en: 'freeze a card', enPassive: 'be frozen' } },
  unfreeze: { from: ['frozen'], to: 'active', allowed: ['admin', 'manager'], name: { zh: '解冻', en: 'unfreeze a card', enPassive: 'be unfrozen' } },
  replace: { from: ['active', 'lost'], to: 'replaced', allowed: ['admin', 'manager', 'cashier'], name: { zh: '补卡', en: 'replace a card', enPassive: 'be replaced' } },
  cancel: { from: ['active', 'lost', 'frozen'], to: 'cancelled', allowed: ['admin', 'manager'], name: { zh: '注销', en: 'cancel a card', enPassive: 'be cancelled' } },
};

const STATUS_NAMES: Readonly<Record<CardStatus, Bilingual>> = {
  active: { zh: '正常', en: 'active' },
  lost: { zh: '已挂失', en: 'reported lost' },
  frozen: { zh: '已冻结', en: 'frozen' },
  cancelled: { zh: '已注销', en: 'cancelled' },
  replaced: { zh: '已补换新卡', en: 'replaced by a new card' },
};

/**
 * Why a card that is not active cannot be used (lookup at a kiosk or POS, any movement presenting it);
 * undefined for an active card. The text is what a kiosk shows the member.
 */
export function cardUseRefusal(status: CardStatus): CardRefusal | undefined {
  switch (status) {
    case 'active':
      return undefined;
    case 'lost':
      return { code: 'CARD_LOST', zh: '此卡已挂失，请联系门店', en: 'This card is reported lost, please ask staff' };
    case 'frozen':
      return { code: 'CARD_FROZEN', zh: '此卡已冻结，请联系门店', en: 'This card is frozen, please ask staff' };
    case 'cancelled':
      return { code: 'CARD_INVALID_STATE', zh: '此卡已注销，不能使用', en: 'This card has been cancelled and cannot be used' };
    case 'replaced':
      return { code: 'CARD_INVALID_STATE', zh: '此卡已换新卡，请使用新卡', en: 'This card has been replaced, please use the new card' };
  }
}

export interface CardFacts {
  readonly type: CardType;
  readonly status: CardStatus;
  /** Active supplementary cards linked to this card: a primary holding them cannot be cancelled. */
  readonly activeSupplementaries: number;
}

export type CardActionCheck = { readonly ok: true; readonly to: CardStatus } | { readonly ok: false; readonly refusal: CardRefusal };

/**
 * Whether `performer` may apply `action` to a card in this state, and the state it leads to. The
 * performer is checked first: someone who may not do this at all learns nothing about the card's state.
 */
export function checkCardAction(card: CardFacts, action: CardAction, performer: CardPerformer): CardActionCheck {
  const transition = CARD_TRANSITIONS[action];
  if (!transition.allowed.includes(performer)) {
    return {
      ok: false,
      refusal: {
        code: 'FORBIDDEN',
        zh: `您无权${transition.name.zh}，请联系门店店长`,
        en: `You may not ${transition.name.en}; please ask a store manager`,
      },
    };
  }
  if (!transition.from.includes(card.status)) {
    const status = STATUS_NAMES[card.status];
    return {
      ok: false,
      refusal: {
        code: 'CARD_INVALID_STATE',
        zh: `此卡${status.zh}，不能${transition.name.zh}`,
        en: `This card is ${status.en}, so it cannot ${transition.name.enPassive}`,
      },
    };
  }
  if (action === 'cancel' && card.activeSupplementaries > 0) {
    return {
      ok: false,
      refusal: {
        code: 'CARD_INVALID_STATE',
        zh: `此卡还有${card.activeSupplementaries}张副卡在用，请先注销副卡`,
        en: `This card still has ${card.activeSupplementaries} active supplementary card(s); cancel them first`,
      },
    };
  }
  return { ok: true, to: transition.to };
}

/** Which card types may carry supplementary cards: a supplementary card cannot be a primary itself. */
export function mayHaveSupplementary(primary: Pick<CardFacts, 'type' | 'status'>): CardRefusal | undefined {
  if (primary.type === 'supplementary') {
    return { code: 'CARD_INVALID_STATE', zh: '副卡不能再办副卡', en: 'A supplementary card cannot have supplementary cards of its own' };
  }
  return cardUseRefusal(primary.status);
}

/**
 * A supplementary card's per-day cap on stored value spent with it; null means no cap. Refused when this
 * payment would take the day's total above the limit (reaching it exactly is allowed).
 */
export function dailyLimitRefusal(limitFen: number | null, spentTodayFen: number, amountFen: number): CardRefusal | undefined {
  if (limitFen === null || spentTodayFen + amountFen <= limitFen) return undefined;
  const left = Math.max(0, limitFen - spentTodayFen);
  return {
    code: 'CARD_DAILY_LIMIT_EXCEEDED',
    zh: `此卡每日限额${formatFen(limitFen)}，今日还可消费${formatFen(left)}`,
    en: `This card may spend ${formatFen(limitFen)} a day; ${formatFen(left)} is left today`,
  };
}

// ---- Fees ------------------------------------------------------------------------------------------------

export const CARD_FEE_KINDS = ['joining', 'annual', 'replacement'] as const;
export type CardFeeKind = (typeof CARD_FEE_KINDS)[number];

/** Fees of one card type, in fen; 0 means free. */
export type CardFees = Readonly<Record<CardFeeKind, number>>;
export type CardFeeSchedule = Readonly<Record<CardType, CardFees>>;

/**
 * The chain's default price list (¥10 = 1000 fen). VIP fees are listed at their face value and waived below.
 * The program rules carry the schedule in force (shared/rules/program.ts `cardFees`); a rule set published
 * before fees were part of the program means this one, so change the fees by publishing rules, not here.
 */
export const DEFAULT_CARD_FEE_SCHEDULE: CardFeeSchedule = {
  personal: { joining: 0, annual: 0, replacement: 2_000 },
  supplementary: { joining: 1_000, annual: 0, replacement: 1_000 },
  group: { joining: 5_000, annual: 10_000, replacement: 2_000 },
  vip: { joining: 0, annual: 20_000, replacement: 2_000 },
};

/** Why a card is replaced: a defective card is the chain's fault, so its replacement is free. */
export const REPLACEMENT_REASONS = ['lost', 'damaged', 'defective'] as const;
export type ReplacementReason = (typeof REPLACEMENT_REASONS)[number];

export const CARD_FEE_WAIVERS = ['vip_card', 'defective_card'] as const;
export type CardFeeWaiver = (typeof CARD_FEE_WAIVERS)[number];

export interface CardFeeQuote {
  readonly kind: CardFeeKind;
  /** The price list's fee. */
  readonly scheduledFen: number;
  /** What is charged: the scheduled fee, or 0 when waived. */
  readonly amountFen: number;
  readonly waivedBy?: CardFeeWaiver;
}

/**
 * The fee for this card type and occasion. Waivers: VIP cards pay no annual or replacement fee; a
 * defective card is replaced free whatever its type. A waiver is named in the quote so the fee record
 * shows why nothing was charged.
 */
export function cardFee(schedule: CardFeeSchedule, type: CardType, kind: CardFeeKind, replacementReason?: ReplacementReason): CardFeeQuote {
  const scheduledFen = schedule[type][kind];
  const waivedBy: CardFeeWaiver | undefined =
    kind === 'replacement' && replacementReason === 'defective'
      ? 'defective_card'
      : type === 'vip' && (kind === 'annual' || kind === 'replacement')
        ? 'vip_card'
        : undefined;
  if (waivedBy && scheduledFen > 0) return { kind, scheduledFen, amountFen: 0, waivedBy };
  return { kind, scheduledFen, amountFen: scheduledFen };
}

/**
 * Every problem with a fee schedule: a type or fee missing, unknown (a typo would otherwise be ignored and
 * the fee silently default), negative, fractional or absurd. Accepts any JSON (a published rule set).
 */
export function cardFeeScheduleProblems(schedule: unknown): string[] {
  if (!isPlainObject(schedule)) return ['must be an object of card types'];
  const problems = Object.keys(schedule)
    .filter((type) => !(CARD_TYPES as readonly string[]).includes(type))
    .map((type) => `${type}: unknown card type (the types are ${CARD_TYPES.join(', ')})`);
  for (const type of CARD_TYPES) {
    const fees = schedule[type];
    if (!isPlainObject(fees)) {
      problems.push(`${type}: must be an object of fees (${CARD_FEE_KINDS.join(', ')})`);
      continue;
    }
    for (const kind of Object.keys(fees)) {
      if (!(CARD_FEE_KINDS as readonly string[]).includes(kind)) problems.push(`${type}.${kind}: unknown fee (the fees are ${CARD_FEE_KINDS.join(', ')})`);
    }
    for (const kind of CARD_FEE_KINDS) {
      const fee = fees[kind];
      if (!isFen(fee) || fee < 0) problems.push(`${type}.${kind}: must be a whole number of fen ≥ 0, got ${String(fee)}`);
    }
  }
  return problems;
}

/** Throws a RuleSetError listing every problem of the schedule. */
export function validateCardFeeSchedule(schedule: unknown): asserts schedule is CardFeeSchedule {
  assertNoProblems('card fee schedule', cardFeeScheduleProblems(schedule));
}

/**
 * The card types the annual-fee run visits: those with an annual fee on the price list, waived ones
 * included, so the year's fee record shows the waiver (cardFee decides what is actually charged).
 */
export function cardTypesWithAnnualFee(schedule: CardFeeSchedule): CardType[] {
  return CARD_TYPES.filter((type) => schedule[type].annual > 0);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
