import { Type, type Static } from '@sinclair/typebox';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { CATALOG_ITEM_KINDS, LIMIT_PERIODS } from '../../shared/rules/redemption.ts';
import { COUPON_STATUSES, Coupon as CouponSchema } from '../coupons/index.ts';
import { Member } from '../ledger/index.ts';
import { MAX_STOCK } from './items.ts';
import { VOUCHER_STATUSES } from './vouchers.ts';

/** Request and response schemas of the catalog and voucher routes (validation, serialisation, OpenAPI). */

const strict = { additionalProperties: false } as const;
const Uuid = Type.String({ format: 'uuid' });
const storeId = (description = 'Store code, e.g. sh-xuhui') => Type.String({ minLength: 1, maxLength: 40, description });
const StoreId = storeId();
const Instant = Type.String({ format: 'date-time' });
const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'Why: kept in the audit trail' });
const IdempotencyKey = Type.String({
  minLength: 8,
  maxLength: 100,
  description: 'Unique per intended change. Resending the same request with the same key returns the first result.',
});
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));
const CashFen = Type.Optional(
  Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN, description: 'Paid from stored value with the points (fen); default 0' }),
);

const Price = Type.Union([
  Type.Object({ kind: Type.Literal('points'), points: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), cashFen: CashFen }, {
    ...strict,
    description: 'The same number of points for every tier',
  }),
  Type.Object({ kind: Type.Literal('value'), valueFen: Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN }), cashFen: CashFen }, {
    ...strict,
    description: "Points = valueFen at the member's tier ratio (pointsPerYuan), rounded up",
  }),
]);

const definition = {
  kind: literals(CATALOG_ITEM_KINDS),
  nameZh: Type.String({ minLength: 1, maxLength: 64 }),
  nameEn: Type.String({ minLength: 1, maxLength: 64 }),
  price: Price,
  allowedTiers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 20, description: 'Empty or absent: every tier' })),
  memberLimit: Type.Optional(
    Type.Object(
      { count: Type.Integer({ minimum: 1, maximum: 1000 }), period: literals(LIMIT_PERIODS) },
      { ...strict, description: "Redemptions per member per calendar period in the store's time zone" },
    ),
  ),
  validFrom: Type.Optional(Type.String({ maxLength: 40, description: 'ISO instant with offset, inclusive' })),
  validUntil: Type.Optional(Type.String({ maxLength: 40, description: 'ISO instant with offset, exclusive' })),
  voucherValidDays: Type.Integer({ minimum: 1, maximum: 3660, description: 'A voucher is valid this many days (× 24 h) after issue' }),
  active: Type.Optional(Type.Boolean({ description: 'Default true' })),
  couponTemplateId: Type.Optional(
    Type.String({
      format: 'uuid',
      description:
        "Kind coupon: the active coupon template a redemption issues (required for a new or edited coupon item). The member gets the coupon, " +
        "used at checkout by its code, and no voucher; the coupon's validity is the template's (voucherValidDays does not apply).",
    }),
  ),
};

export const CreateItemBody = Type.Object(
  {
    ...definition,
    stock: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_STOCK }), Type.Null()], { description: 'Units chain-wide; null = unlimited' }),
    perStoreStock: Type.Optional(Type.Boolean({ description: 'Held per store (set with stock adjustments per store); default false' })),
    reason: Reason,
  },
  strict,
);
export type CreateItemBody = Static<typeof CreateItemBody>;

export const UpdateItemBody = Type.Object(
  { ...definition, expectedVersion: Type.Integer({ minimum: 1, description: 'The version you edited' }), reason: Reason },
  strict,
);
export type UpdateItemBody = Static<typeof UpdateItemBody>;

export const StockAdjustmentBody = Type.Object(
  {
    storeId: Type.Optional(StoreId),
    delta: Type.Integer({ minimum: -MAX_STOCK, maximum: MAX_STOCK, description: 'Units added (positive) or removed (negative), not 0' }),
    reason: Reason,
  },
  strict,
);
export type StockAdjustmentBody = Static<typeof StockAdjustmentBody>;

export const CatalogItem = Type.Object(
  {
    id: Uuid,
    ...definition,
    active: Type.Boolean(),
    stock: Type.Union([Type.Integer(), Type.Null()]),
    perStoreStock: Type.Boolean(),
    storeStock: Type.Array(Type.Object({ storeId: StoreId, stock: Type.Integer() }, strict)),
    version: Type.Integer(),
    createdAt: Instant,
    updatedAt: Instant,
  },
  strict,
);

export const ItemParams = Type.Object({ itemId: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
export type ItemParams = Static<typeof ItemParams>;

export const ItemsQuery = Type.Object({ active: Type.Optional(literals(['true', 'false'] as const)) }, strict);
export type ItemsQuery = Static<typeof ItemsQuery>;

const Actor = Type.Object({ type: literals(['member', 'operator', 'device', 'system'] as const), id: Type.String() }, strict);

export const ItemAudit = Type.Array(
  Type.Object(
    { action: literals(['created', 'updated', 'stock_adjusted'] as const), storeId: Type.Optional(StoreId), actor: Actor, reason: Type.String(), at: Instant },
    strict,
  ),
);

export const Voucher = Type.Object(
  {
    voucherId: Uuid,
    code: Type.String(),
    displayCode: Type.String({ description: 'As printed, e.g. K7QM-3XPD-9HRT-W2N5' }),
    text: Type.String({ description: 'Signed voucher for the QR code (verify offline with GET /vouchers/signing-key)' }),
    itemId: Uuid,
    memberId: Uuid,
    redeemedStoreId: StoreId,
    storeId: Type.Union([StoreId, Type.Null()], { description: 'The only store that may write it off; null = any store' }),
    status: literals(VOUCHER_STATUSES),
    points: Type.Integer(),
    cashFen: Type.Integer(),
    ledgerTxId: Uuid,
    issuedAt: Instant,
    expiresAt: Instant,
    writtenOff: Type.Optional(Type.Object({ at: Instant, storeId: StoreId, actor: Actor }, strict)),
    refundTxId: Type.Optional(Uuid),
  },
  strict,
);

export const RedeemBody = Type.Object(
  {
    idempotencyKey: IdempotencyKey,
    memberId: Uuid,
    itemId: Uuid,
    storeId: Type.Optional(storeId("Where the member redeems; default the operator's own store")),
  },
  strict,
);
export type RedeemBody = Static<typeof RedeemBody>;

/**
 * A coupon as cloud/coupons/schemas.ts describes it, with every status: a refunded coupon redemption shows its
 * coupon 'voided'.
 */
export const Coupon = Type.Object({ ...CouponSchema.properties, status: literals(COUPON_STATUSES) }, strict);

const Redeemed = {
  txId: Uuid,
  replay: Type.Boolean(),
  member: Member,
  // Exactly one of the two: a coupon for an item of kind coupon naming a template, else a voucher.
  voucher: Type.Optional(Voucher),
  coupon: Type.Optional(Coupon),
};
export const RedeemResponses = {
  201: Type.Object(Redeemed, { ...strict, description: 'Redeemed now: points (and cash part) taken, stock taken, voucher (or coupon) issued' }),
  200: Type.Object(Redeemed, { ...strict, description: 'Already redeemed under this idempotency key: the same voucher (or coupon)' }),
};

export const ScanBody = Type.Object(
  {
    voucher: Type.String({ minLength: 1, maxLength: 1000, description: 'The scanned QR text, or the code as typed (dashes and case ignored)' }),
    storeId: Type.Optional(storeId("The cashier's store; default the operator's own store")),
  },
  strict,
);
export type ScanBody = Static<typeof ScanBody>;

export const Verification = Type.Object(
  {
    valid: Type.Boolean(),
    code: Type.Optional(Type.String({ description: 'Why not: VOUCHER_INVALID, VOUCHER_EXPIRED, VOUCHER_WRONG_STORE, VOUCHER_ALREADY_USED, VOUCHER_NOT_FOUND' })),
    message: Type.Optional(Type.String({ description: '中文 / English' })),
    voucher: Type.Optional(Voucher),
  },
  strict,
);

export const CodeParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 40, description: 'Voucher code, dashes allowed' }) }, strict);
export type CodeParams = Static<typeof CodeParams>;

export const RefundVoucherBody = Type.Object({ idempotencyKey: IdempotencyKey, reason: Reason, storeId: Type.Optional(StoreId) }, strict);
export type RefundVoucherBody = Static<typeof RefundVoucherBody>;

const Refunded = { refundTxId: Uuid, replay: Type.Boolean(), member: Member, voucher: Voucher };
export const RefundVoucherResponses = {
  201: Type.Object(Refunded, { ...strict, description: 'Refunded now: points and cash part returned, unit back in stock' }),
  200: Type.Object(Refunded, { ...strict, description: 'Already refunded under this idempotency key: the first result' }),
};

export const RedemptionParams = Type.Object({ txId: Type.String({ minLength: 1, maxLength: 64, description: 'The redemption transaction (txId)' }) }, strict);
export type RedemptionParams = Static<typeof RedemptionParams>;

const RefundedRedemption = { refundTxId: Uuid, replay: Type.Boolean(), member: Member, coupon: Coupon };
export const RefundRedemptionResponses = {
  201: Type.Object(RefundedRedemption, { ...strict, description: 'Refunded now: points and cash part returned, unit back in stock, coupon voided' }),
  200: Type.Object(RefundedRedemption, { ...strict, description: 'Already refunded under this idempotency key: the first result' }),
};

export const SigningKey = Type.Object(
  {
    algorithm: Type.Literal('Ed25519'),
    keyId: Type.String({ description: 'Appears in every voucher text signed with this key' }),
    publicKeyPem: Type.String({ description: 'SPKI PEM' }),
  },
  strict,
);

export const ExpiryRun = Type.Object({ expired: Type.Integer() }, strict);
