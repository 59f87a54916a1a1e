import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TemplateParams, couponErrors } from '../coupons/index.ts';
import type { Database } from '../db/database.ts';
import type { Ledger } from '../ledger/index.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { operatorActor, operatorOf, scope } from '../kernel/access.ts';
import { listStores, orgCode } from '../org/index.ts';
import { issueToSegment } from './targeted.ts';

const strict = { additionalProperties: false } as const;
const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'Why — kept in the audit trail' });
const Segment = Type.Union([
  Type.Object(
    { kind: Type.Literal('no_purchase_within_days'), days: Type.Integer({ minimum: 1, maximum: 3660, description: 'No purchase in the last N days' }) },
    strict,
  ),
  Type.Object(
    { kind: Type.Literal('birthday_month'), timeZone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone deciding the month, e.g. Asia/Shanghai' }) },
    strict,
  ),
]);

const TargetedIssueBody = Type.Object(
  {
    segment: Segment,
    campaignKey: Type.String({ minLength: 1, maxLength: 100, description: 'Each member gets at most one coupon per campaign key' }),
    storeId: Type.Optional(orgCode('Only members of this home store; default every member in your scope')),
    reason: Reason,
  },
  strict,
);
type TargetedIssueBody = Static<typeof TargetedIssueBody>;

const TargetedIssueResult = Type.Object(
  { matched: Type.Integer(), issued: Type.Integer(), alreadyIssued: Type.Integer() },
  { ...strict, description: 'Members in the segment, coupons issued now, members who already had this campaign’s coupon' },
);


/** The stores whose members a targeted issue reaches: the given one, or all in the operator's scope (undefined = HQ, every member). */
async function segmentStores(db: Database, request: FastifyRequest, storeId: string | undefined): Promise<string[] | undefined> {
  if (storeId !== undefined) return [storeId];
  const { scope: own } = operatorOf(request);
  return own.level === 'hq' ? undefined : (await listStores(db, own)).map((store) => store.storeId);
}


const MANAGERS = ['admin', 'manager'] as const;

/** Campaigns: a coupon to every member of a segment in the operator's scope. */
export function registerCampaignRoutes(api: FastifyInstance, { db, ledger }: { db: Database; ledger: Ledger }): void {
  api.post<{ Params: TemplateParams; Body: TargetedIssueBody }>(
    '/coupon-templates/:templateId/targeted-issues',
    {
      config: {
        access: { roles: MANAGERS, scope: [scope.store()] },
        // INVALID_INPUT: a bad segment, or a points-exchange template; IDEMPOTENCY_CONFLICT: the campaign key was used with another template.
        errors: [kernelErrors.INVALID_INPUT, kernelErrors.IDEMPOTENCY_CONFLICT, couponErrors.COUPON_NOT_FOUND, couponErrors.COUPON_NOT_APPLICABLE],
      },
      schema: {
        summary: 'Issue the coupon to every member of a segment in your scope (no purchase in N days, birthday month); once per member per campaign key',
        tags: ['coupons'],
        params: TemplateParams,
        body: TargetedIssueBody,
        response: { 200: TargetedIssueResult },
      },
    },
    async (request) => {
      const storeIds = await segmentStores(db, request, request.body.storeId);
      const { segment, campaignKey, reason } = request.body;
      return issueToSegment(db, ledger, {
        templateId: request.params.templateId,
        segment,
        campaignKey,
        reason,
        actor: operatorActor(request),
        ...(storeIds === undefined ? {} : { storeIds }),
        logger: request.log,
      });
    },
  );

}
