import { Type, type Static } from '@sinclair/typebox';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { MAX_LINES, MAX_QUANTITY } from '../../shared/rules/checkout.ts';
import { Member } from '../ledger/index.ts';
import { orgCode } from '../org/index.ts';

/** Request and response schemas of the POS checkout routes. */

const strict = { additionalProperties: false } as const;
const Uuid = Type.String({ format: 'uuid' });
const Fen = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN, description });
const Bilingual = { zh: Type.String(), en: Type.String() };

const Line = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64 }),
    category: Type.String({ minLength: 1, maxLength: 64 }),
    unitPriceFen: Fen('Price of one unit'),
    quantity: Type.Integer({ minimum: 1, maximum: MAX_QUANTITY }),
  },
  strict,
);

export const Tenders = Type.Object(
  {
    pointsFen: Type.Optional(Fen('Part paid with points, in fen; the points taken are ⌈fen × pointsPerYuan / 100⌉')),
    storedValueFen: Type.Optional(Fen('Part paid from stored value (split principal/bonus by the spending order)')),
    cashFen: Type.Optional(Fen('Part paid in cash')),
  },
  { ...strict, description: 'The parts must sum exactly to the payable amount' },
);

const basketFields = {
  memberId: Uuid,
  storeId: orgCode('The store where the sale happens; must be in your scope'),
  lines: Type.Array(Line, { minItems: 1, maxItems: MAX_LINES }),
  couponCode: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'A coupon the member holds, e.g. 7K3M-Q9XT-2HCV' })),
  occurredAt: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'When the sale happened (ISO with offset); default now' })),
};

export const QuoteBody = Type.Object({ ...basketFields, payment: Type.Optional(Tenders) }, strict);
export type QuoteBody = Static<typeof QuoteBody>;

export const PayBody = Type.Object(
  {
    ...basketFields,
    idempotencyKey: Type.String({ minLength: 8, maxLength: 100, description: 'Unique per sale; a retry returns the first receipt' }),
    payment: Tenders,
    cardUid: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The card presented, if any' })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  strict,
);
export type PayBody = Static<typeof PayBody>;

export const RefundBody = Type.Object(
  {
    idempotencyKey: Type.String({ minLength: 8, maxLength: 100, description: 'Unique per refund; a retry returns the first result' }),
    reason: Type.String({ minLength: 1, maxLength: 200 }),
  },
  strict,
);
export type RefundBody = Static<typeof RefundBody>;

export const CheckoutParams = Type.Object({ checkoutId: Uuid }, strict);
export type CheckoutParams = Static<typeof CheckoutParams>;

const Int = Type.Integer();
const PricedLine = Type.Object(
  {
    sku: Type.String(),
    category: Type.String(),
    unitPriceFen: Int,
    quantity: Int,
    grossFen: Int,
    tierDiscountFen: Int,
    couponDiscountFen: Int,
    netFen: Type.Integer({ description: 'What the member pays for this line' }),
  },
  strict,
);
const CouponOutcome = Type.Union([
  Type.Object({ applies: Type.Literal(true), discountFen: Int, eligibleFen: Int }, strict),
  Type.Object(
    {
      applies: Type.Literal(false),
      reason: Type.Object(
        {
          code: Type.Union(['not_yet_valid', 'expired', 'tier', 'store', 'no_eligible_items', 'min_spend'].map((c) => Type.Literal(c))),
          ...Bilingual,
        },
        strict,
      ),
    },
    strict,
  ),
]);
export const BasketPrice = Type.Object(
  {
    lines: Type.Array(PricedLine),
    subtotalFen: Int,
    tierDiscountFen: Type.Integer({ description: 'Tier discount, floored per line' }),
    couponDiscountFen: Int,
    discountFen: Int,
    payableFen: Int,
    coupon: Type.Union([CouponOutcome, Type.Null()], { description: 'null when no coupon was offered' }),
  },
  { ...strict, description: 'Tier discount first, then the coupon on the discounted amounts' },
);
const paymentFields = { pointsFen: Int, pointsSpent: Int, storedValueFen: Int, cashFen: Int, moneyFen: Int };
const PaymentPlan = Type.Object(paymentFields, strict);

export const Quote = Type.Object(
  {
    memberId: Uuid,
    storeId: Type.String(),
    tier: Type.String(),
    rulesVersion: Int,
    price: BasketPrice,
    coupon: Type.Union([Type.Object({ code: Type.String(), label: Type.Object(Bilingual, strict) }, strict), Type.Null()]),
    pointsPerYuan: Type.Integer({ description: 'This many points pay ¥1 at the member’s tier' }),
    maxPointsFen: Type.Integer({ description: 'The most of this basket the member’s points can pay' }),
    payment: Type.Optional(PaymentPlan),
    pointsEarned: Type.Optional(Int),
  },
  strict,
);

export const Receipt = Type.Object(
  {
    checkoutId: Uuid,
    txId: Type.Union([Uuid, Type.Null()], { description: 'The checkout ledger transaction; null when no member value moved' }),
    memberId: Uuid,
    storeId: Type.String(),
    occurredAt: Type.String({ format: 'date-time' }),
    rulesVersion: Int,
    price: BasketPrice,
    payment: Type.Object({ ...paymentFields, storedValuePrincipalFen: Int, storedValueBonusFen: Int }, strict),
    pointsEarned: Int,
    earnedByCategory: Type.Array(Type.Object({ category: Type.String(), moneyFen: Int, points: Int }, strict)),
    pointsCutByBudget: Type.Integer({ description: 'Points the rules earned that a points budget did not allow' }),
    coupon: Type.Union([Type.Object({ couponId: Uuid, code: Type.String(), discountFen: Int }, strict), Type.Null()]),
    refund: Type.Union([Type.Object({ refundTxId: Type.Union([Uuid, Type.Null()]), refundedAt: Type.String({ format: 'date-time' }) }, strict), Type.Null()]),
  },
  strict,
);

const Paid = { receipt: Receipt, replay: Type.Boolean(), member: Member };
export const PaidResponses = {
  201: Type.Object(Paid, { ...strict, description: 'Paid now' }),
  200: Type.Object(Paid, { ...strict, description: 'Already done under this idempotency key: the first receipt, nothing changed' }),
};
