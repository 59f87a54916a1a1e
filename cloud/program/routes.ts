import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import { ledgerErrors, MemberParams, type Ledger } from '../ledger/index.ts';
import { ALL_ROLES, operatorActor, operatorOf, scope, type OperatorAccess } from '../kernel/access.ts';
import { listBudgetAlerts } from './budgets.ts';
import { checkIn } from './check-ins.ts';
import { programErrors } from './errors.ts';
import { registerReferral } from './referrals.ts';
import type { RulesStore } from './rules-store.ts';
import * as S from './schemas.ts';
import { runTierReview, tierStatus } from './tiers.ts';

export interface ProgramRouteDeps {
  db: Database;
  ledger: Ledger;
  rules: RulesStore;
}

const tags = ['program'];
const FRONT_DESK = ['admin', 'manager', 'cashier'] as const;
/** Changing the program is for HQ admins only: it applies to every store. */
const HQ_ADMIN: OperatorAccess = { roles: ['admin'], levels: ['hq'], scope: scope.none('the program applies to every store: headquarters only') };
/** The rules are the same for everyone: every operator may read them. */
const ANY_OPERATOR: OperatorAccess = { roles: ALL_ROLES, scope: scope.none('the program rules are chain-wide and the same for everyone') };

/** Program rules, tiers, daily check-in, referrals and budget alerts over REST. Register inside the API prefix. */
export function registerProgramRoutes(api: FastifyInstance, { db, ledger, rules }: ProgramRouteDeps): void {
  api.get(
    '/program/rules',
    { config: { access: ANY_OPERATOR, errors: [] }, schema: { summary: 'The current program rules and their version', tags, response: { 200: S.PublishedRules } } },
    async () => rules.current(),
  );

  api.get<{ Params: S.VersionParams }>(
    '/program/rules/:version',
    {
      config: { access: ANY_OPERATOR, errors: [kernelErrors.NOT_FOUND] },
      schema: { summary: 'One published version of the program rules', tags, params: S.VersionParams, response: { 200: S.PublishedRules } },
    },
    async (request) => rules.byVersion(request.params.version),
  );

  api.put<{ Body: S.PublishRulesBody }>(
    '/program/rules',
    {
      config: { access: HQ_ADMIN, errors: [kernelErrors.RULES_INVALID, kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Publish new program rules as the next version (HQ admin); invalid rules are refused with every problem listed',
        tags,
        body: S.PublishRulesBody,
        response: { 201: S.PublishedRules },
      },
    },
    async (request, reply) => {
      const published = await rules.publish(request.body.rules, operatorActor(request), request.body.reason);
      request.log.info({ version: published.version }, 'program rules published');
      return reply.status(201).send(published);
    },
  );

  api.get<{ Params: MemberParams }>(
    '/members/:memberId/tier',
    {
      config: { access: { roles: FRONT_DESK, scope: [scope.member()] }, errors: [] },
      schema: {
        summary: 'A member’s tier, qualifying spend, progress to the next tier and any warning of a drop',
        tags,
        params: MemberParams,
        response: { 200: S.TierStatus },
      },
    },
    async (request) => tierStatus(db, request.params.memberId, await rules.current(), new Date()),
  );

  api.post<{ Params: MemberParams; Body: S.CheckInBody }>(
    '/members/:memberId/check-ins',
    {
      config: {
        access: { roles: FRONT_DESK, scope: [scope.member(), scope.actingStore()] },
        // CONFLICT: check-in is switched off in the program rules.
        errors: [programErrors.ALREADY_CHECKED_IN, kernelErrors.CONFLICT],
      },
      schema: {
        summary: 'Daily check-in: points once per local day (409 ALREADY_CHECKED_IN on a second one)',
        tags,
        params: MemberParams,
        body: S.CheckInBody,
        response: { 201: S.CheckInResponse },
      },
    },
    async (request, reply) => {
      const storeId = request.actingStoreId;
      const result = await checkIn(db, ledger, await rules.current(), {
        memberId: request.params.memberId,
        ...(storeId !== undefined ? { storeId } : {}),
        actor: operatorActor(request),
      });
      request.log.info({ memberId: request.params.memberId, localDate: result.localDate, points: result.points }, 'member checked in');
      return reply.status(201).send(result);
    },
  );

  api.post<{ Params: MemberParams; Body: S.ReferralBody }>(
    '/members/:memberId/referral',
    {
      config: {
        access: { roles: FRONT_DESK, scope: [scope.member()] },
        // MEMBER_NOT_FOUND: the referrer; INVALID_INPUT: a member referring themselves; CONFLICT: already referred.
        errors: [ledgerErrors.MEMBER_NOT_FOUND, kernelErrors.INVALID_INPUT, kernelErrors.CONFLICT],
      },
      schema: {
        summary: 'Record who referred this member (once per member); rewards follow the program’s referral rule',
        tags,
        params: MemberParams,
        body: S.ReferralBody,
        response: { 201: S.Referral },
      },
    },
    async (request, reply) => {
      const referral = await registerReferral(db, ledger, await rules.current(), {
        refereeId: request.params.memberId,
        referrerId: request.body.referrerId,
        actor: operatorActor(request),
        reason: request.body.reason,
      });
      request.log.info({ refereeId: referral.refereeId, rewarded: referral.rewardedAt !== null }, 'referral recorded');
      return reply.status(201).send(referral);
    },
  );

  api.get<{ Querystring: S.AlertsQuery }>(
    '/budgets/alerts',
    {
      config: { access: { roles: ['admin', 'manager'], scope: scope.none('lists only the alerts inside the caller’s own scope') }, errors: [] },
      schema: { summary: 'Points budget alerts in your scope, newest first (admin, manager)', tags, querystring: S.AlertsQuery, response: { 200: S.AlertList } },
    },
    async (request) => ({ alerts: await listBudgetAlerts(db, operatorOf(request).scope, request.query.limit ?? 100) }),
  );

  api.post<{ Body: S.TierReviewBody }>(
    '/program/tier-reviews',
    {
      config: { access: HQ_ADMIN, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Run the periodic tier review now (HQ admin): downgrades members whose retention ended',
        tags,
        body: S.TierReviewBody,
        response: { 200: S.TierReviewRun },
      },
    },
    async (request) => {
      const at = request.body.asOf === undefined ? new Date() : new Date(request.body.asOf);
      if (Number.isNaN(at.getTime())) throw invalid('asOf 须为 ISO 时间', 'asOf must be an ISO timestamp');
      return runTierReview(db, { program: await rules.current(), at, actor: operatorActor(request), reason: request.body.reason, logger: request.log });
    },
  );
}
