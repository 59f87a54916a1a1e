import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { errors, MemberParams } from '../http/schemas.ts';
import { actingStoreOf, assertMemberInScope, operatorActor, principalOf, requireRole } from '../org/access.ts';
import { listBudgetAlerts } from './budgets.ts';
import { checkIn } from './check-ins.ts';
import { registerReferral } from './referrals.ts';
import type { RulesStore } from './rules-store.ts';
import * as S from './schemas.ts';
import { runTierReview, tierStatus } from './tiers.ts';

export interface ProgramRouteDeps {
  db: Database;
  rules: RulesStore;
}

const tags = ['program'];
const FRONT_DESK = ['admin', 'manager', 'cashier'] as const;

/** Program rules, tiers, daily check-in, referrals and budget alerts over REST. Register inside the API prefix. */
export function registerProgramRoutes(api: FastifyInstance, { db, rules }: ProgramRouteDeps): void {
  /** Changing the program is for HQ admins only: it applies to every store. */
  const requireHqAdmin = (request: Parameters<typeof principalOf>[0]) => {
    const principal = requireRole(request, ['admin']);
    if (principal.scope.level !== 'hq') throw new LedgerError('FORBIDDEN', 'Only a headquarters admin can change the program rules.');
  };

  api.get('/program/rules', { schema: { summary: 'The current program rules and their version', tags, response: { 200: S.PublishedRules, ...errors() } } }, async (request) => {
    principalOf(request);
    return rules.current();
  });

  api.get<{ Params: S.VersionParams }>(
    '/program/rules/:version',
    { schema: { summary: 'One published version of the program rules', tags, params: S.VersionParams, response: { 200: S.PublishedRules, ...errors(400, 404) } } },
    async (request) => {
      principalOf(request);
      return rules.byVersion(request.params.version);
    },
  );

  api.put<{ Body: S.PublishRulesBody }>(
    '/program/rules',
    {
      schema: {
        summary: 'Publish new program rules as the next version (HQ admin); invalid rules are refused with every problem listed',
        tags,
        body: S.PublishRulesBody,
        response: { 201: S.PublishedRules, ...errors(400) },
      },
    },
    async (request, reply) => {
      requireHqAdmin(request);
      const published = await rules.publish(request.body.rules, operatorActor(request), request.body.reason);
      request.log.info({ version: published.version }, 'program rules published');
      return reply.status(201).send(published);
    },
  );

  api.get<{ Params: MemberParams }>(
    '/members/:memberId/tier',
    {
      schema: {
        summary: 'A member’s tier, qualifying spend, progress to the next tier and any warning of a drop',
        tags,
        params: MemberParams,
        response: { 200: S.TierStatus, ...errors(400, 404) },
      },
    },
    async (request) => {
      await assertMemberInScope(db, request, request.params.memberId);
      return tierStatus(db, request.params.memberId, await rules.current(), new Date());
    },
  );

  api.post<{ Params: MemberParams; Body: S.CheckInBody }>(
    '/members/:memberId/check-ins',
    {
      schema: {
        summary: 'Daily check-in: points once per local day (409 ALREADY_CHECKED_IN on a second one)',
        tags,
        params: MemberParams,
        body: S.CheckInBody,
        response: { 201: S.CheckInResponse, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      requireRole(request, FRONT_DESK);
      await assertMemberInScope(db, request, request.params.memberId);
      const storeId = await actingStoreOf(db, request, request.body.storeId);
      const result = await checkIn(db, await rules.current(), {
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
      schema: {
        summary: 'Record who referred this member (once per member); rewards follow the program’s referral rule',
        tags,
        params: MemberParams,
        body: S.ReferralBody,
        response: { 201: S.Referral, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      requireRole(request, FRONT_DESK);
      await assertMemberInScope(db, request, request.params.memberId);
      const referral = await registerReferral(db, await rules.current(), {
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
    { schema: { summary: 'Points budget alerts in your scope, newest first (admin, manager)', tags, querystring: S.AlertsQuery, response: { 200: S.AlertList, ...errors(400) } } },
    async (request) => {
      const principal = requireRole(request, ['admin', 'manager']);
      return { alerts: await listBudgetAlerts(db, principal.scope, request.query.limit ?? 100) };
    },
  );

  api.post<{ Body: S.TierReviewBody }>(
    '/program/tier-reviews',
    {
      schema: {
        summary: 'Run the periodic tier review now (HQ admin): downgrades members whose retention ended',
        tags,
        body: S.TierReviewBody,
        response: { 200: S.TierReviewRun, ...errors(400) },
      },
    },
    async (request) => {
      requireHqAdmin(request);
      const at = request.body.asOf === undefined ? new Date() : new Date(request.body.asOf);
      if (Number.isNaN(at.getTime())) throw new LedgerError('INVALID_INPUT', 'asOf must be an ISO timestamp.');
      return runTierReview(db, { program: await rules.current(), at, actor: operatorActor(request), reason: request.body.reason, logger: request.log });
    },
  );
}
