import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CARD_NUMBER_PATTERN, CARD_UID_PATTERN } from '../card.ts';
import { DEVICE_ID_PATTERN } from '../ids.ts';
import { MAX_AMOUNT_FEN } from '../money.ts';

/** Payload schemas for every topic in topics.ts. Version 1 of the device protocol. */

export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN });
const CardUid = Type.String({ pattern: CARD_UID_PATTERN });
const CardNumber = Type.String({ pattern: CARD_NUMBER_PATTERN });
export const Timestamp = Type.String({ format: 'date-time', maxLength: 40 });
const PositiveFen = Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN });

export const Balances = Type.Object(
  {
    principalFen: Type.Integer({ minimum: 0 }),
    bonusFen: Type.Integer({ minimum: 0 }),
    points: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type Balances = Static<typeof Balances>;

/** What a notice is about; the kiosk shows any of them the same way (the text says it all). */
export const MEMBER_NOTICE_KINDS = ['tier_progress', 'tier_at_risk', 'points_expiring'] as const;
export type MemberNoticeKind = (typeof MEMBER_NOTICE_KINDS)[number];

/**
 * One program notice for the member, written by the hub in both languages (cloud/program/member-notices.ts),
 * e.g. `{ kind: 'tier_progress', zh: '再消费¥1200.00升级金卡', en: 'Spend ¥1200.00 more to reach Gold' }`.
 */
export const MemberNotice = Type.Object(
  {
    kind: Type.Union(MEMBER_NOTICE_KINDS.map((kind) => Type.Literal(kind))),
    zh: Type.String({ minLength: 1, maxLength: 120 }),
    en: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type MemberNotice = Static<typeof MemberNotice>;

/** At most one notice of each kind. */
export const MAX_MEMBER_NOTICES = MEMBER_NOTICE_KINDS.length;

/** What a kiosk knows about a member: enough to greet them and show balances, nothing more. */
export const MemberSnapshot = Type.Object(
  {
    memberId: Uuid,
    displayName: Type.String({ maxLength: 64 }),
    tier: Type.String({ maxLength: 32 }),
    cardUid: CardUid,
    /** The number of that card, when it has one: a kiosk offline finds a magstripe swipe's member by it. */
    cardNumber: Type.Optional(CardNumber),
    balances: Balances,
    /**
     * The member's program notices as of `asOf`, soonest-to-act first; `[]`: none. Absent: this snapshot says
     * nothing about notices (an ack, or a hub that does not send them), so a kiosk keeps what it showed.
     * Kiosk software from before this field refuses a snapshot carrying it: see protocol.md.
     */
    notices: Type.Optional(Type.Array(MemberNotice, { maxItems: MAX_MEMBER_NOTICES })),
    /** Increases with every ledger change of this member, so a kiosk never replaces newer data with older. */
    version: Type.Integer({ minimum: 0 }),
    asOf: Timestamp,
  },
  { additionalProperties: false },
);
export type MemberSnapshot = Static<typeof MemberSnapshot>;

const RulesVersion = Type.Integer({ minimum: 1 });

/**
 * How the kiosk priced a banknote of a cash session (shared/rules/session-topup.ts): the program rules version
 * and the instant it used, what the session had credited before this bill, and the bonus it promised. The hub
 * re-evaluates with exactly that version at exactly that instant (never "now"), so a top-up recorded offline
 * and replayed later gets what the member was shown. Absent on transactions of kiosks without program rules.
 */
export const TopUpPricing = Type.Object(
  {
    rulesVersion: RulesVersion,
    /** The instant the session's bonus was fixed: its first bill (bills of one session share it). */
    occurredAt: Timestamp,
    sessionCreditedFen: Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN }),
    bonusFen: Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN }),
    bonusPoints: Type.Integer({ minimum: 0 }),
    ruleId: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type TopUpPricing = Static<typeof TopUpPricing>;

export const CashTopUp = Type.Object(
  {
    kind: Type.Literal('cash_topup'),
    memberId: Uuid,
    cardUid: CardUid,
    amountFen: PositiveFen,
    currency: Type.Literal('CNY'),
    pricing: Type.Optional(TopUpPricing),
  },
  { additionalProperties: false },
);
export type CashTopUp = Static<typeof CashTopUp>;

/** One outbox entry as it travels to the hub. txId is the idempotency key. */
export const DeviceTransaction = Type.Object(
  {
    v: Type.Literal(1),
    txId: Uuid,
    deviceId: DeviceId,
    seq: Type.Integer({ minimum: 1 }),
    createdAt: Timestamp,
    body: CashTopUp,
  },
  { additionalProperties: false },
);
export type DeviceTransaction = Static<typeof DeviceTransaction>;

/**
 * Device → hub on `txs`: outbox transactions the device sends at one moment, in one message, each exactly as it
 * would have gone on `tx` and answered as such. A device sends it only to a hub it has seen answer on `tx/acks` on
 * the current connection (a hub from before both listens to neither); within MAX_PAYLOAD_BYTES.
 */
export const DeviceTransactions = Type.Object(
  {
    v: Type.Literal(1),
    txs: Type.Array(DeviceTransaction, { minItems: 1, maxItems: 256 }),
  },
  { additionalProperties: false },
);
export type DeviceTransactions = Static<typeof DeviceTransactions>;

export const ErrorBody = Type.Object(
  { code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 500 }) },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const TxAck = Type.Union([
  Type.Object(
    {
      v: Type.Literal(1),
      txId: Uuid,
      seq: Type.Integer({ minimum: 1 }),
      status: Type.Literal('ok'),
      /** True when the hub had already applied this transaction and is repeating its first result. */
      replay: Type.Boolean(),
      member: MemberSnapshot,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      v: Type.Literal(1),
      txId: Uuid,
      seq: Type.Integer({ minimum: 1 }),
      status: Type.Literal('error'),
      /** A rejected transaction is final: the kiosk must not resend it under the same id. */
      error: ErrorBody,
    },
    { additionalProperties: false },
  ),
]);
export type TxAck = Static<typeof TxAck>;

/**
 * Hub → device on `tx/acks`: the acks of several of the device's transactions that one commit decided, in one
 * message, each exactly as it would have gone on `tx/ack`. Sent only to a device whose status carries
 * `batchedAcks: true`; the hub keeps each message within MAX_PAYLOAD_BYTES.
 */
export const TxAcks = Type.Object(
  {
    v: Type.Literal(1),
    acks: Type.Array(TxAck, { minItems: 1, maxItems: 256 }),
  },
  { additionalProperties: false },
);
export type TxAcks = Static<typeof TxAcks>;

/** A card is looked up by its NFC UID or, for a magnetic-stripe swipe, by its card number — exactly one of them. */
export const CardLookupRequest = Type.Union([
  Type.Object({ v: Type.Literal(1), correlationId: Uuid, cardUid: CardUid }, { additionalProperties: false }),
  Type.Object({ v: Type.Literal(1), correlationId: Uuid, cardNumber: CardNumber }, { additionalProperties: false }),
]);
export type CardLookupRequest = Static<typeof CardLookupRequest>;

function responseEnvelope<T extends TSchema>(data: T) {
  return Type.Union([
    Type.Object(
      { v: Type.Literal(1), correlationId: Uuid, status: Type.Literal('ok'), data },
      { additionalProperties: false },
    ),
    Type.Object(
      { v: Type.Literal(1), correlationId: Uuid, status: Type.Literal('error'), error: ErrorBody },
      { additionalProperties: false },
    ),
  ]);
}

export const CardLookupResponse = responseEnvelope(MemberSnapshot);
export type CardLookupResponse = Static<typeof CardLookupResponse>;

export const MemberUpdate = Type.Object({ v: Type.Literal(1), member: MemberSnapshot }, { additionalProperties: false });
export type MemberUpdate = Static<typeof MemberUpdate>;

export const DeviceStatus = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: DeviceId,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    at: Timestamp,
    softwareVersion: Type.Optional(Type.String({ maxLength: 32 })),
    /** This device takes the acks of one commit together on `tx/acks` (TxAcks); without it each comes alone on `tx/ack`. */
    batchedAcks: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type DeviceStatus = Static<typeof DeviceStatus>;

/**
 * Hub → device on `sync`: the hub saw a device sequence number above a hole it has never received. The device
 * publishes its outbox entries `fromSeq`..`toSeq` (inclusive) again, in order; each is still applied at most once.
 */
export const SyncRequest = Type.Object(
  {
    v: Type.Literal(1),
    fromSeq: Type.Integer({ minimum: 1 }),
    toSeq: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type SyncRequest = Static<typeof SyncRequest>;

/** Caps on what a kiosk takes on its own word while it cannot reach the hub (DESIGN.md decision 6). */
export const OfflineLimitsConfig = Type.Object(
  {
    perTransactionFen: Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN }),
    perCardPerDayFen: Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN }),
    perKioskTotalFen: Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_FEN }),
    /** 0 means "never serve from the cache"; a week is the most any store may allow. */
    maxOfflineHours: Type.Integer({ minimum: 0, maximum: 168 }),
  },
  { additionalProperties: false },
);
export type OfflineLimitsConfig = Static<typeof OfflineLimitsConfig>;

/** The settings the hub manages for one kiosk. */
export const DeviceConfig = Type.Object(
  {
    /** Absent: the kiosk keeps the store name it was installed with (STORE_NAME). */
    storeName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    receiptFooter: Type.String({ maxLength: 200 }),
    offlineLimits: OfflineLimitsConfig,
  },
  { additionalProperties: false },
);
export type DeviceConfig = Static<typeof DeviceConfig>;

/**
 * The published membership program (shared/rules/program.ts) as it travels to kiosks. The rules are checked
 * with validateProgramRules on the kiosk, not here: a bad rule set must be refused with every problem named.
 */
export const DesiredProgram = Type.Object(
  {
    version: RulesVersion,
    rules: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type DesiredProgram = Static<typeof DesiredProgram>;

/**
 * Hub → device on `config` (retained): the desired configuration. A device applies only a version above its own.
 * `program` rides along with its own version line (the rules store's), applied independently of `version`.
 */
export const DesiredConfig = Type.Object(
  {
    v: Type.Literal(1),
    version: Type.Integer({ minimum: 1 }),
    config: DeviceConfig,
    program: Type.Optional(DesiredProgram),
  },
  { additionalProperties: false },
);
export type DesiredConfig = Static<typeof DesiredConfig>;

/**
 * Device → hub on `config/reported`: what the device did with a desired configuration. `appliedVersion` is the
 * version it runs now (0: none yet). A rejection names the offered version when it could be read, and why.
 */
/** What the device did with the program rules of a desired configuration; `appliedVersion` 0: none yet. */
export const ProgramReported = Type.Union([
  Type.Object(
    { status: Type.Literal('applied'), version: RulesVersion, appliedVersion: RulesVersion },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      status: Type.Literal('rejected'),
      version: RulesVersion,
      appliedVersion: Type.Integer({ minimum: 0 }),
      reason: Type.String({ maxLength: 500 }),
    },
    { additionalProperties: false },
  ),
]);
export type ProgramReported = Static<typeof ProgramReported>;

export const ConfigReported = Type.Union([
  Type.Object(
    {
      v: Type.Literal(1),
      status: Type.Literal('applied'),
      version: Type.Integer({ minimum: 1 }),
      appliedVersion: Type.Integer({ minimum: 1 }),
      program: Type.Optional(ProgramReported),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      v: Type.Literal(1),
      status: Type.Literal('rejected'),
      version: Type.Optional(Type.Integer({ minimum: 1 })),
      appliedVersion: Type.Integer({ minimum: 0 }),
      reason: Type.String({ maxLength: 500 }),
      program: Type.Optional(ProgramReported),
    },
    { additionalProperties: false },
  ),
]);
export type ConfigReported = Static<typeof ConfigReported>;
