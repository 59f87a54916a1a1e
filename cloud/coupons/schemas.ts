import { Type, type Static } from '@sinclair/typebox';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { COUPON_STATUSES } from './coupons.ts';
import { orgCode } from '../org/index.ts';

/** Request and response schemas of the coupon routes. */

const strict = { additionalProperties: false } as const;
const Fen = (description: string) => Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN, description });
const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'Why — kept in the audit trail' });
const Uuid = Type.String({ format: 'uuid' });
const Instant = (description: string) => Type.String({ minLength: 1, maxLength: 40, description });
const Bilingual = Type.Object({ zh: Type.String(), en: Type.String() }, strict);
const NonEmptyList = (item: ReturnType<typeof Type.String>, description: string) =>
  Type.Array(item, { minItems: 1, maxItems: 200, description });

export const CouponOffer = Type.Union([
  Type.Object({ kind: Type.Literal('amount_off'), amountOffFen: Fen('Fen taken off (满减: with conditions.minSpendFen)') }, strict),
  Type.Object(
    {
      kind: Type.Literal('percent_off'),
      percentOff: Type.Integer({ minimum: 1, maximum: 100, description: 'Whole percent off; the discount is floored to the fen' }),
      maxDiscountFen: Type.Optional(Fen('Cap on the discount')),
    },
    strict,
  ),
]);

export const CouponConditions = Type.Object(
  {
    tiers: Type.Optional(NonEmptyList(Type.String({ minLength: 1, maxLength: 32 }), 'Tier ids that may use it; omit for all')),
    storeIds: Type.Optional(NonEmptyList(orgCode('Store code'), 'Stores where it may be used; omit for all')),
    categories: Type.Optional(NonEmptyList(Type.String({ minLength: 1, maxLength: 64 }), 'Only these categories count; omit for the whole basket')),
    minSpendFen: Type.Optional(Fen('The eligible amount after the tier discount must reach this')),
    validFrom: Type.Optional(Instant('ISO timestamp with offset, inclusive')),
    validUntil: Type.Optional(Instant('ISO timestamp with offset, exclusive')),
  },
  strict,
);

const templateFields = {
  nameZh: Type.String({ minLength: 1, maxLength: 64 }),
  nameEn: Type.String({ minLength: 1, maxLength: 64 }),
  offer: CouponOffer,
  conditions: CouponConditions,
  pointsCost: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Points a member pays for it (积分兑换券); 0 or absent = given' }),
  ),
};

export const CreateTemplateBody = Type.Object({ ...templateFields, reason: Reason }, strict);
export type CreateTemplateBody = Static<typeof CreateTemplateBody>;

export const UpdateTemplateBody = Type.Object(
  {
    definition: Type.Optional(Type.Object(templateFields, strict)),
    active: Type.Optional(Type.Boolean({ description: 'false stops new issues; coupons already held stay usable' })),
    reason: Reason,
  },
  strict,
);
export type UpdateTemplateBody = Static<typeof UpdateTemplateBody>;

export const TemplateParams = Type.Object({ templateId: Uuid }, strict);
export type TemplateParams = Static<typeof TemplateParams>;

export const CouponTemplate = Type.Object(
  {
    templateId: Uuid,
    ...templateFields,
    label: Bilingual,
    active: Type.Boolean(),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  strict,
);
export const CouponTemplateList = Type.Object({ templates: Type.Array(CouponTemplate) }, strict);

export const Coupon = Type.Object(
  {
    couponId: Uuid,
    code: Type.String({ description: 'What the member shows at the till, e.g. 7K3M-Q9XT-2HCV' }),
    templateId: Uuid,
    memberId: Uuid,
    terms: Type.Object(templateFields, { ...strict, description: 'The template as it was when the coupon was issued' }),
    label: Bilingual,
    status: Type.Union(COUPON_STATUSES.map((status) => Type.Literal(status))),
    issuedAt: Type.String({ format: 'date-time' }),
    usedInCheckoutId: Type.Optional(Uuid),
    purchaseTxId: Type.Optional(Uuid),
  },
  strict,
);
export const CouponList = Type.Object({ coupons: Type.Array(Coupon) }, strict);

export const MemberParams = Type.Object({ memberId: Uuid }, strict);
export type MemberParams = Static<typeof MemberParams>;

export const MemberCouponsQuery = Type.Object(
  { status: Type.Optional(Type.Union(COUPON_STATUSES.map((status) => Type.Literal(status)))) },
  strict,
);
export type MemberCouponsQuery = Static<typeof MemberCouponsQuery>;

export const IssueBody = Type.Object(
  {
    templateId: Uuid,
    idempotencyKey: Type.String({ minLength: 8, maxLength: 100, description: 'Unique per issue; a retry returns the same coupon' }),
    reason: Reason,
    storeId: Type.Optional(orgCode('Where a points-exchange coupon is bought (settlement)')),
  },
  strict,
);
export type IssueBody = Static<typeof IssueBody>;

export const IssueResponses = {
  201: Type.Object({ coupon: Coupon, created: Type.Literal(true) }, { ...strict, description: 'Issued now' }),
  200: Type.Object({ coupon: Coupon, created: Type.Literal(false) }, { ...strict, description: 'Already issued under this key; nothing changed' }),
};

export const BirthdayBody = Type.Object(
  {
    birthMonthDay: Type.Union([Type.String({ pattern: '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$', description: 'MM-DD' }), Type.Null()]),
    reason: Reason,
  },
  strict,
);
export type BirthdayBody = Static<typeof BirthdayBody>;
export const Saved = Type.Null({ description: 'Saved' });

export const ExpiryJobBody = Type.Object({ asOf: Type.Optional(Instant('Expire coupons whose validity ended at or before this; default now')) }, strict);
export type ExpiryJobBody = Static<typeof ExpiryJobBody>;
export const ExpiryJobResult = Type.Object({ expired: Type.Integer() }, strict);
