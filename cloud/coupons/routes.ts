import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseInstant } from '../../shared/rules/window.ts';
import type { CouponTemplate } from '../../shared/rules/coupons.ts';
import type { Database } from '../db/database.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import { ledgerErrors, type Ledger } from '../ledger/index.ts';
import { ALL_ROLES, forbidden, operatorActor, operatorOf, scope, type ScopeSource } from '../kernel/access.ts';
import { orgErrors } from '../org/index.ts';
import { programErrors, type RulesStore } from '../program/index.ts';
import { listMemberCoupons, issueCoupon } from './coupons.ts';
import { couponErrors } from './errors.ts';
import { expireCoupons } from './expiry-job.ts';
import * as S from './schemas.ts';
import { setBirthday } from './birthdays.ts';
import { createTemplate, getTemplate, listTemplates, updateTemplate } from './templates.ts';

export interface CouponRouteDeps {
  db: Database;
  ledger: Ledger;
  /** The published program rules (points budgets for points-exchange coupons). */
  rules: RulesStore;
}

const tags = ['coupons'];
const MANAGERS = ['admin', 'manager'] as const;
const STAFF = ['admin', 'manager', 'cashier'] as const;

/**
 * Headquarters' templates apply anywhere; an operator scoped to a region or store may only make templates
 * restricted to stores in their scope, so a store manager cannot hand out chain-wide discounts. The stores a
 * template is valid at, for the access check; a template valid everywhere is for headquarters only.
 */
function templateStores(request: FastifyRequest, template: Pick<CouponTemplate, 'conditions'> | undefined) {
  if (operatorOf(request).scope.level === 'hq' || template === undefined) return [];
  const storeIds = (template.conditions as { storeIds?: unknown } | undefined)?.storeIds;
  if (storeIds === undefined) {
    throw forbidden('只有总部可以创建全门店通用的优惠券：请列出适用门店（conditions.storeIds）', 'Only headquarters may create coupons valid at every store: list the stores (conditions.storeIds).');
  }
  return Array.isArray(storeIds) ? storeIds.filter((id): id is string => typeof id === 'string').map((store) => ({ store })) : [];
}

const asObject = (value: unknown) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined);

/** The conditions of the template a request creates, read raw: a malformed one is refused by validation next. */
const templateConditions: ScopeSource = scope.of('body', 'conditions', 'coupon template stores', [orgErrors.STORE_NOT_FOUND], async (value, request) =>
  templateStores(request, { conditions: (asObject(value) ?? {}) as CouponTemplate['conditions'] }),
);

/** The new definition a template change brings, if any. */
const changedDefinition: ScopeSource = scope.of('body', 'definition', 'coupon template stores', [orgErrors.STORE_NOT_FOUND], async (value, request) =>
  templateStores(request, asObject(value) as CouponTemplate | undefined),
);

/** Coupon templates, issuing to one member, members' coupons, birthdays, the expiry job. */
export function registerCouponRoutes(api: FastifyInstance, { db, ledger, rules }: CouponRouteDeps): void {
  const everyone = { roles: ALL_ROLES, scope: scope.none('coupon templates are the chain’s offers, readable by every operator') };
  /** The template in the path, as it is now: changing it needs its stores in scope. */
  const storedTemplate = scope.of('params', 'templateId', 'coupon template', [couponErrors.COUPON_NOT_FOUND], async (templateId, request) =>
    templateStores(request, await getTemplate(db, String(templateId))),
  );

  api.get(
    '/coupon-templates',
    { config: { access: everyone, errors: [] }, schema: { summary: 'Coupon templates, newest first', tags, response: { 200: S.CouponTemplateList } } },
    async () => ({ templates: await listTemplates(db) }),
  );

  api.get<{ Params: S.TemplateParams }>(
    '/coupon-templates/:templateId',
    {
      config: { access: everyone, errors: [couponErrors.COUPON_NOT_FOUND] },
      schema: { summary: 'One coupon template', tags, params: S.TemplateParams, response: { 200: S.CouponTemplate } },
    },
    async (request) => getTemplate(db, request.params.templateId),
  );

  api.post<{ Body: S.CreateTemplateBody }>(
    '/coupon-templates',
    {
      config: { access: { roles: MANAGERS, scope: [templateConditions] }, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Create a coupon template: amount off (满减 with minSpendFen), percent off (optional cap), points-exchange (pointsCost)',
        tags,
        body: S.CreateTemplateBody,
        response: { 201: S.CouponTemplate },
      },
    },
    async (request, reply) => {
      const { reason, ...template } = request.body;
      const created = await createTemplate(db, template, operatorActor(request), reason);
      request.log.info({ templateId: created.templateId }, 'coupon template created');
      return reply.status(201).send(created);
    },
  );

  api.put<{ Params: S.TemplateParams; Body: S.UpdateTemplateBody }>(
    '/coupon-templates/:templateId',
    {
      config: { access: { roles: MANAGERS, scope: [storedTemplate, changedDefinition] }, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Change a template or stop issuing it (coupons already issued keep their terms)',
        tags,
        params: S.TemplateParams,
        body: S.UpdateTemplateBody,
        response: { 200: S.CouponTemplate },
      },
    },
    async (request) => {
      const { reason, ...change } = request.body;
      const updated = await updateTemplate(db, request.params.templateId, change, operatorActor(request), reason);
      request.log.info({ templateId: updated.templateId, version: updated.version }, 'coupon template updated');
      return updated;
    },
  );

  api.post<{ Params: S.MemberParams; Body: S.IssueBody }>(
    '/members/:memberId/coupons',
    {
      config: {
        access: { roles: STAFF, scope: [scope.member(), scope.store()] },
        errors: [
          kernelErrors.INVALID_INPUT,
          kernelErrors.IDEMPOTENCY_CONFLICT,
          couponErrors.COUPON_NOT_FOUND,
          couponErrors.COUPON_NOT_APPLICABLE,
          programErrors.BUDGET_EXCEEDED,
          ledgerErrors.INSUFFICIENT_POINTS,
        ],
      },
      schema: {
        summary: 'Issue a coupon to a member (a points-exchange coupon takes its points in the same transaction)',
        tags,
        params: S.MemberParams,
        body: S.IssueBody,
        response: S.IssueResponses,
      },
    },
    async (request, reply) => {
      const { idempotencyKey, ...rest } = request.body;
      const { budgets } = (await rules.current()).rules;
      const result = await issueCoupon(db, ledger, { ...rest, issueKey: idempotencyKey, memberId: request.params.memberId, actor: operatorActor(request), budgets });
      request.log.info({ memberId: request.params.memberId, couponId: result.coupon.couponId, created: result.created }, 'coupon issued');
      return reply.status(result.created ? 201 : 200).send(result);
    },
  );

  api.get<{ Params: S.MemberParams; Querystring: S.MemberCouponsQuery }>(
    '/members/:memberId/coupons',
    {
      config: { access: { roles: STAFF, scope: [scope.member()] }, errors: [] },
      schema: {
        summary: "A member's coupons, newest first",
        tags,
        params: S.MemberParams,
        querystring: S.MemberCouponsQuery,
        response: { 200: S.CouponList },
      },
    },
    async (request) => ({ coupons: await listMemberCoupons(db, request.params.memberId, request.query.status) }),
  );

  api.put<{ Params: S.MemberParams; Body: S.BirthdayBody }>(
    '/members/:memberId/birthday',
    {
      config: { access: { roles: STAFF, scope: [scope.member()] }, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: "Set or clear a member's birthday (MM-DD) for birthday-month coupons",
        tags,
        params: S.MemberParams,
        body: S.BirthdayBody,
        response: { 204: S.Saved },
      },
    },
    async (request, reply) => {
      await setBirthday(db, request.params.memberId, request.body.birthMonthDay, operatorActor(request), request.body.reason);
      return reply.status(204).send();
    },
  );

  api.post<{ Body: S.ExpiryJobBody }>(
    '/jobs/coupon-expiry',
    {
      config: { access: { roles: ['admin'], levels: ['hq'], scope: scope.none('the job touches every store: headquarters only') }, errors: [kernelErrors.INVALID_INPUT] },
      schema: {
        summary: 'Expire issued coupons whose validity has ended (HQ admin)',
        tags,
        body: S.ExpiryJobBody,
        response: { 200: S.ExpiryJobResult },
      },
    },
    async (request) => {
      const asOf = request.body.asOf === undefined ? new Date() : parseInstant(request.body.asOf);
      if (asOf === null) throw invalid('asOf 须为带时区的 ISO 时间', 'asOf must be an ISO timestamp with an offset');
      return expireCoupons(db, { asOf: new Date(asOf), actor: operatorActor(request), logger: request.log });
    },
  );
}
