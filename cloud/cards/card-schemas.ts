import { Type, type Static } from '@sinclair/typebox';
import { CARD_FEE_KINDS, CARD_FEE_WAIVERS, CARD_STATUSES, CARD_TYPES, REPLACEMENT_REASONS } from '../../shared/rules/cards.ts';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { Member, PointsAdjustmentBody, StoredValueBody } from '../ledger/index.ts';
import { CARD_EVENT_ACTIONS } from './card-events.ts';

/** Request and response schemas of the card routes (OpenAPI tag "cards"). */

const strict = { additionalProperties: false } as const;
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));
const CardUid = Type.String({ minLength: 1, maxLength: 64, description: '4, 7 or 10 bytes of hex; ":", "-" and spaces are ignored' });
const CardNumber = Type.String({ minLength: 1, maxLength: 64, description: 'The 16-digit number the card carries; "-" and spaces are ignored' });
const Fen = Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN, description: 'Whole fen (¥1 = 100)' });
const Instant = Type.String({ format: 'date-time' });

/** What every card change carries: an idempotency key, why (required, recorded with the operator), where. */
const Change = {
  idempotencyKey: StoredValueBody.properties.idempotencyKey,
  reason: PointsAdjustmentBody.properties.reason,
  storeId: StoredValueBody.properties.storeId,
};

export const CardChangeBody = Type.Object(Change, strict);
export type CardChangeBody = Static<typeof CardChangeBody>;

export const ReplaceCardBody = Type.Object(
  {
    ...Change,
    newCardUid: CardUid,
    newCardNumber: Type.Optional(CardNumber),
    replacementReason: literals(REPLACEMENT_REASONS),
  },
  { ...strict, description: 'The new card takes over the member (balances stay with the member); a defective card is replaced free.' },
);
export type ReplaceCardBody = Static<typeof ReplaceCardBody>;

export const SupplementaryCardBody = Type.Object(
  {
    ...Change,
    primaryCardUid: CardUid,
    cardUid: CardUid,
    cardNumber: Type.Optional(CardNumber),
    holderName: Type.String({ minLength: 1, maxLength: 64, description: 'Who carries the supplementary card' }),
    dailyLimitFen: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN, description: 'Cap on stored value spent with this card per local day' })),
  },
  strict,
);
export type SupplementaryCardBody = Static<typeof SupplementaryCardBody>;

export const CardFeeBody = Type.Object({ ...Change, kind: literals(['joining', 'annual'] as const) }, strict);
export type CardFeeBody = Static<typeof CardFeeBody>;

export const Card = Type.Object(
  {
    cardUid: Type.String(),
    cardNumber: Type.Optional(Type.String()),
    memberId: Type.String({ format: 'uuid' }),
    type: literals(CARD_TYPES),
    status: literals(CARD_STATUSES),
    primaryCardUid: Type.Optional(Type.String()),
    holderName: Type.Optional(Type.String()),
    dailyLimitFen: Type.Optional(Fen),
    replacedByCardUid: Type.Optional(Type.String()),
    boundAt: Instant,
    statusChangedAt: Instant,
  },
  strict,
);

const CardFee = Type.Object(
  {
    cardUid: Type.String(),
    kind: literals(CARD_FEE_KINDS),
    period: Type.String({ description: "'once', or the local year of an annual fee" }),
    scheduledFen: Fen,
    amountFen: Type.Integer({ minimum: 0, description: 'Charged from stored value (principal first, then bonus); 0 when waived or free' }),
    waivedBy: Type.Optional(literals(CARD_FEE_WAIVERS)),
    txId: Type.Optional(Type.String({ format: 'uuid', description: "The 'card_fee' ledger transaction" })),
  },
  strict,
);

const Changed = {
  card: Card,
  member: Member,
  fee: Type.Optional(CardFee),
  replacement: Type.Optional(Card),
  relinkedCardUids: Type.Optional(Type.Array(Type.String())),
  replay: Type.Boolean({ description: 'True when this key was used before: the first result, nothing new happened' }),
};
export const CardChangeResponses = {
  201: Type.Object(Changed, { ...strict, description: 'Done now' }),
  200: Type.Object(Changed, { ...strict, description: 'Already done under this idempotency key: the first result, unchanged' }),
};

export const CardEventsResponse = Type.Object(
  {
    cardUid: Type.String(),
    events: Type.Array(
      Type.Object(
        {
          cardUid: Type.String(),
          memberId: Type.String({ format: 'uuid' }),
          action: literals(CARD_EVENT_ACTIONS),
          fromStatus: Type.Optional(literals(CARD_STATUSES)),
          toStatus: literals(CARD_STATUSES),
          relatedCardUid: Type.Optional(Type.String()),
          actor: Type.Object({ type: Type.String(), id: Type.String() }, strict),
          reason: Type.String(),
          at: Instant,
        },
        strict,
      ),
    ),
  },
  strict,
);

export const CardParams = Type.Object(
  { cardUid: Type.String({ minLength: 1, maxLength: 64, description: 'NFC UID in hex, e.g. 04A22B1C' }) },
  strict,
);
export type CardParams = Static<typeof CardParams>;

export const CardNumberParams = Type.Object(
  { cardNumber: Type.String({ minLength: 1, maxLength: 64, description: 'The 16-digit card number, e.g. 6200123412345678' }) },
  strict,
);
export type CardNumberParams = Static<typeof CardNumberParams>;

export const BindCardBody = Type.Object(
  {
    cardUid: Type.String({ minLength: 1, maxLength: 64, description: '4, 7 or 10 bytes of hex; ":", "-" and spaces are ignored' }),
    cardNumber: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The 16-digit number the card carries (NFC record, magnetic-stripe PAN); "-" and spaces are ignored',
      }),
    ),
    type: Type.Optional(
      Type.Union([Type.Literal('personal'), Type.Literal('group'), Type.Literal('vip')], {
        description: 'personal (the default), group or vip; a supplementary card is issued against a primary card at /members/{memberId}/supplementary-cards',
      }),
    ),
  },
  strict,
);
export type BindCardBody = Static<typeof BindCardBody>;

const Bound = { member: MemberSnapshot, alreadyBound: Type.Boolean() };
export const BindCardResponses = {
  201: Type.Object(Bound, { ...strict, description: 'Card bound now' }),
  200: Type.Object(Bound, { ...strict, description: 'The card was already bound to this member; nothing changed' }),
};

