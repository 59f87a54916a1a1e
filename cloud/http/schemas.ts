import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ErrorBody, MemberSnapshot } from '../../shared/contract/payloads.ts';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { ORG_CODE_PATTERN } from '../org/structure.ts';
import { TRANSACTION_KINDS } from '../ledger/posting.ts';
import { MAX_STATEMENT_LIMIT } from '../ledger/statement.ts';
import { MAX_POINTS } from '../ledger/validate.ts';

/** Request and response schemas of the REST API; they drive validation, serialisation and the OpenAPI document. */

const strict = { additionalProperties: false } as const;
const MemberId = MemberSnapshot.properties.memberId;

/** A region or store code (cloud/org/structure.ts). */
export const orgCode = (description: string) => Type.String({ pattern: ORG_CODE_PATTERN, description });

/**
 * A member as the hub shows it: the kiosk snapshot, with no cardUid while the member has no card, and the home
 * store (REST only: kiosks get the MQTT MemberSnapshot, which has no home store — see toSnapshot).
 */
export const Member = Type.Object(
  {
    ...MemberSnapshot.properties,
    cardUid: Type.Optional(MemberSnapshot.properties.cardUid),
    homeStoreId: Type.Optional(orgCode("The member's home store, which decides which operators reach them; absent for members registered at HQ")),
  },
  { ...strict, description: 'A member with balances (fen and points) and a version that grows with every change.' },
);

export const MemberParams = Type.Object({ memberId: MemberId }, strict);
export type MemberParams = Static<typeof MemberParams>;

export const CardParams = Type.Object(
  { cardUid: Type.String({ minLength: 1, maxLength: 64, description: 'NFC UID in hex, e.g. 04A22B1C' }) },
  strict,
);
export type CardParams = Static<typeof CardParams>;

export const CreateMemberBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    phone: Type.Optional(Type.String({ minLength: 5, maxLength: 32, description: 'Digits, optionally with a leading +' })),
    storeId: Type.Optional(
      orgCode("The member's home store, which decides who may see them. Defaults to the operator's store; required for HQ and region operators."),
    ),
  },
  strict,
);
export type CreateMemberBody = Static<typeof CreateMemberBody>;

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

const IdempotencyKey = Type.String({
  minLength: 8,
  maxLength: 100,
  description: 'Unique per intended change. Resending the same request with the same key returns the first result.',
});
const AmountFen = Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN, description: 'Whole fen (¥1 = 100)' });
const Reason = Type.String({ minLength: 1, maxLength: 200 });
/** Where a movement happened, for cross-store settlement. */
const MovementStore = Type.Optional(
  orgCode("The store where this happens (settlement counts it there). Defaults to the operator's store; must be in the operator's scope."),
);

/** Body of a top-up or a payment. */
export const StoredValueBody = Type.Object(
  { idempotencyKey: IdempotencyKey, amountFen: AmountFen, reason: Type.Optional(Reason), storeId: MovementStore },
  strict,
);
export type StoredValueBody = Static<typeof StoredValueBody>;

export const PointsAdjustmentBody = Type.Object(
  {
    idempotencyKey: IdempotencyKey,
    points: Type.Integer({ minimum: -MAX_POINTS, maximum: MAX_POINTS, description: 'Positive grants, negative takes back; not 0' }),
    reason: Reason,
    storeId: MovementStore,
  },
  strict,
);
export type PointsAdjustmentBody = Static<typeof PointsAdjustmentBody>;

export const RedemptionBody = Type.Object(
  {
    idempotencyKey: IdempotencyKey,
    points: Type.Integer({ minimum: 1, maximum: MAX_POINTS }),
    item: Type.String({ minLength: 1, maxLength: 100, description: 'What the member receives' }),
    storeId: MovementStore,
  },
  strict,
);
export type RedemptionBody = Static<typeof RedemptionBody>;

const Posted = {
  txId: MemberId,
  replay: Type.Boolean({ description: 'True when this key was applied before: this is the first result, nothing new was posted' }),
  member: Member,
  topUp: Type.Optional(
    Type.Object(
      {
        principalFen: Type.Integer({ minimum: 1 }),
        bonusFen: Type.Integer({ minimum: 0 }),
        bonusPoints: Type.Integer({ minimum: 0 }),
        ruleId: Type.Union([Type.String(), Type.Null()], { description: 'The top-up bonus bracket that applied, or null' }),
      },
      { ...strict, description: 'Top-ups only: what the member paid and the bonus it earned (充100送20)' },
    ),
  ),
};
export const PostedResponses = {
  201: Type.Object(Posted, { ...strict, description: 'Applied now' }),
  200: Type.Object(Posted, { ...strict, description: 'Already applied under this idempotency key: the first result, unchanged' }),
};

export const StatementQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_STATEMENT_LIMIT, default: 50 })) },
  strict,
);
export type StatementQuery = Static<typeof StatementQuery>;

const AccountKind = Type.Union([Type.Literal('stored_principal'), Type.Literal('stored_bonus'), Type.Literal('points')]);
const Actor = Type.Object(
  {
    type: Type.Union([Type.Literal('member'), Type.Literal('operator'), Type.Literal('device'), Type.Literal('system')]),
    id: Type.String(),
  },
  strict,
);

export const StatementResponse = Type.Object(
  {
    memberId: MemberId,
    entries: Type.Array(
      Type.Object(
        {
          txId: MemberId,
          kind: Type.Union(TRANSACTION_KINDS.map((kind) => Type.Literal(kind))),
          createdAt: Type.String({ format: 'date-time' }),
          account: AccountKind,
          asset: Type.Union([Type.Literal('CNY'), Type.Literal('POINTS')]),
          amount: Type.Integer({ description: 'Fen for CNY, points for POINTS; positive credits the member' }),
          balanceAfter: Type.Integer(),
          reason: Type.String(),
          actor: Actor,
          deviceId: Type.Optional(Type.String()),
        },
        strict,
      ),
    ),
  },
  strict,
);

export const HealthResponse = Type.Object(
  { status: Type.Literal('ok'), database: Type.Union([Type.Literal('pglite'), Type.Literal('postgres')]) },
  strict,
);

const errorResponse = (description: string) => Type.Object({ error: ErrorBody }, { ...strict, description });
const ERROR_DESCRIPTIONS = {
  400: 'Invalid request (VALIDATION_FAILED, INVALID_AMOUNT, INVALID_CARD_UID, INVALID_CARD_NUMBER, INVALID_INPUT)',
  401: 'UNAUTHENTICATED: no operator token, or one that is unknown or deactivated',
  403: "FORBIDDEN: the operator's role or scope (HQ, region, store) does not allow this",
  404: 'MEMBER_NOT_FOUND, CARD_NOT_FOUND, STORE_NOT_FOUND, OPERATOR_NOT_FOUND or NOT_FOUND',
  409: 'Refused by the ledger (INSUFFICIENT_BALANCE, INSUFFICIENT_POINTS, IDEMPOTENCY_CONFLICT, CARD_ALREADY_BOUND, CONFLICT)',
  503: 'The database is unreachable',
};
type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** Error responses of a public route, by status, all with the same `{ error: { code, message } }` body. */
export function publicErrors(...statuses: ErrorStatus[]): Record<number, TSchema> {
  const responses: Record<number, TSchema> = { 500: errorResponse('Unexpected hub error (INTERNAL_ERROR)') };
  for (const status of statuses) responses[status] = errorResponse(ERROR_DESCRIPTIONS[status]);
  return responses;
}

/** Error responses of an operator route: the given statuses plus 401 and 403, which every such route can give. */
export function errors(...statuses: ErrorStatus[]): Record<number, TSchema> {
  return publicErrors(401, 403, ...statuses);
}
