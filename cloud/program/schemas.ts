import { Type, type Static } from '@sinclair/typebox';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { Member } from '../ledger/index.ts';
import { orgCode } from '../org/index.ts';

/** Request and response schemas of the program routes (rules, tiers, check-in, referrals, budgets). */

const strict = { additionalProperties: false } as const;
const Uuid = MemberSnapshot.properties.memberId;
const Instant = Type.String({ format: 'date-time' });
const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'Why: recorded with the change' });
const ActorSchema = Type.Object(
  { type: Type.Union(['member', 'operator', 'device', 'system'].map((t) => Type.Literal(t))), id: Type.String() },
  strict,
);

const RULES_DESCRIPTION =
  'ProgramRules (shared/rules/program.ts): { tiers, tierReview, earning, topUpBonus, spendingOrder, pointsExpiry, budgets, ' +
  'checkIn, referral, cardFees? }. Amounts in whole fen, points whole, multipliers in integer percent.';

export const PublishedRules = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    rules: Type.Unknown({ description: RULES_DESCRIPTION }),
    publishedAt: Instant,
    actor: ActorSchema,
    reason: Type.String(),
  },
  { ...strict, description: 'One immutable, versioned program rule set' },
);

export const VersionParams = Type.Object({ version: Type.Integer({ minimum: 1 }) }, strict);
export type VersionParams = Static<typeof VersionParams>;

export const PublishRulesBody = Type.Object(
  { rules: Type.Unknown({ description: RULES_DESCRIPTION }), reason: Reason },
  strict,
);
export type PublishRulesBody = Static<typeof PublishRulesBody>;

const Benefits = Type.Object(
  { discountPercentOff: Type.Integer(), pointsMultiplierPercent: Type.Integer(), pointsPerYuan: Type.Integer() },
  strict,
);

export const TierStatus = Type.Object(
  {
    tier: Type.String(),
    nameZh: Type.String(),
    nameEn: Type.String(),
    since: Instant,
    retainedUntil: Type.String({ format: 'date-time', description: 'The tier is kept at least until then, whatever the spend' }),
    windowSpendFen: Type.Integer({ description: 'Qualifying spend in the tier window, fen' }),
    benefits: Benefits,
    progress: Type.Union([
      Type.Object({ nextTier: Type.String(), remainingFen: Type.Integer(), message: Type.String({ description: '再消费¥X升级金卡 / Spend ¥X more to reach Gold' }) }, strict),
      Type.Null(),
    ]),
    warning: Type.Union([
      Type.Object(
        { tier: Type.String(), remainingFen: Type.Integer(), deadline: Instant, message: Type.String({ description: '再消费¥X保级… / Spend ¥X more by … to keep …' }) },
        strict,
      ),
      Type.Null(),
    ]),
    rulesVersion: Type.Integer(),
  },
  strict,
);

export const CheckInBody = Type.Object(
  { storeId: Type.Optional(orgCode('The store where the member checks in (default: your store, else the member’s home store)')) },
  strict,
);
export type CheckInBody = Static<typeof CheckInBody>;

const Alert = Type.Object(
  {
    id: Type.Integer(),
    scope: Type.Union([Type.Literal('member'), Type.Literal('store')]),
    subjectId: Type.String(),
    storeId: Type.Union([Type.String(), Type.Null()]),
    direction: Type.Union([Type.Literal('earn'), Type.Literal('spend')]),
    period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
    periodKey: Type.String(),
    thresholdPercent: Type.Integer(),
    used: Type.Integer(),
    limitPoints: Type.Integer(),
    txId: Type.Union([Uuid, Type.Null()]),
    createdAt: Instant,
  },
  strict,
);

export const CheckInResponse = Type.Object(
  {
    localDate: Type.String({ description: 'The local day (YYYY-MM-DD) in the store’s time zone' }),
    streak: Type.Integer({ minimum: 1 }),
    points: Type.Integer({ minimum: 0, description: 'Credited, after the points budget' }),
    rulePoints: Type.Integer({ minimum: 0 }),
    streakBonusPoints: Type.Integer({ minimum: 0 }),
    txId: Type.Union([Uuid, Type.Null()]),
    member: Member,
    alerts: Type.Array(Alert),
    rulesVersion: Type.Integer(),
  },
  strict,
);

export const ReferralBody = Type.Object({ referrerId: Uuid, reason: Reason }, strict);
export type ReferralBody = Static<typeof ReferralBody>;

export const Referral = Type.Object(
  {
    refereeId: Uuid,
    referrerId: Uuid,
    createdAt: Instant,
    rewardedAt: Type.Union([Instant, Type.Null()]),
    referrerTxId: Type.Union([Uuid, Type.Null()]),
    refereeTxId: Type.Union([Uuid, Type.Null()]),
  },
  strict,
);

export const AlertsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }, strict);
export type AlertsQuery = Static<typeof AlertsQuery>;
export const AlertList = Type.Object({ alerts: Type.Array(Alert) }, strict);

export const TierReviewBody = Type.Object(
  { asOf: Type.Optional(Type.String({ format: 'date-time', description: 'Review instant (default now)' })), reason: Reason },
  strict,
);
export type TierReviewBody = Static<typeof TierReviewBody>;

export const TierReviewRun = Type.Object(
  {
    runId: Uuid,
    asOf: Instant,
    rulesVersion: Type.Integer(),
    reviewed: Type.Integer(),
    confirmed: Type.Integer(),
    retained: Type.Integer(),
    downgraded: Type.Integer(),
  },
  strict,
);
