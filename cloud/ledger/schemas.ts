import { Type, type Static } from '@sinclair/typebox';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { orgCode } from '../org/index.ts';
import { TRANSACTION_KINDS } from './posting.ts';
import { MAX_STATEMENT_LIMIT } from './statement.ts';
import { MAX_POINTS } from './validate.ts';

/** Request and response schemas of the ledger's REST routes (Member and MemberParams serve other modules too). */

const strict = { additionalProperties: false } as const;
const MemberId = MemberSnapshot.properties.memberId;

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

