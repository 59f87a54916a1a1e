import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import { SCOPE_LEVELS, type OperatorScope } from '../kernel/principal.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { ALL_ROLES, operatorActor, operatorOf, scope } from '../kernel/access.ts';
import { orgErrors } from './errors.ts';
import { createOperator, deactivateOperator, getOperator, listOperators } from './operators.ts';
import * as S from './schemas.ts';
import { createRegion, createStore, listRegions, listStores } from './structure.ts';

export interface OrgRouteDeps {
  db: Database;
}

const tags = ['org'];
const ADMINS = ['admin'] as const;
const OWN_SCOPE = scope.none('answers only what lies inside the caller’s own scope');

/** A well-formed operator scope in a raw body, else undefined (validation refuses it next). */
function scopeIn(value: unknown): OperatorScope | undefined {
  const candidate = value as Partial<OperatorScope> | null;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  return SCOPE_LEVELS.includes(candidate.level!) && typeof candidate.id === 'string' ? { level: candidate.level!, id: candidate.id } : undefined;
}

/** The scope a new operator gets: the caller's must reach it. */
const newOperatorScope = scope.of('body', 'scope', 'operator scope', [orgErrors.STORE_NOT_FOUND], async (value) => {
  const wanted = scopeIn(value);
  return wanted && { scope: wanted };
});

/** The region a new store goes into: the caller's scope must reach it. */
const newStoreRegion = scope.of('body', 'regionId', 'region', [], async (value) =>
  typeof value === 'string' ? { scope: { level: 'region' as const, id: value } } : undefined,
);

/**
 * The organisation over REST: who am I, regions, stores and operators. Only admins change it, and only inside
 * their own scope (an HQ admin anywhere, a region admin in their region, a store admin in their store); every
 * change is audited with the operator and the reason given. Register inside the API prefix.
 */
export function registerOrgRoutes(api: FastifyInstance, { db }: OrgRouteDeps): void {
  api.get(
    '/me',
    {
      config: { access: { roles: ALL_ROLES, scope: scope.none('the caller’s own account') }, errors: [] },
      schema: { summary: 'The signed-in operator: role and scope', tags, response: { 200: S.Me } },
    },
    async (request) => operatorOf(request),
  );

  api.get(
    '/regions',
    { config: { access: { roles: ALL_ROLES, scope: OWN_SCOPE }, errors: [] }, schema: { summary: 'Regions in your scope', tags, response: { 200: S.RegionList } } },
    async (request) => ({ regions: await listRegions(db, operatorOf(request).scope) }),
  );

  api.post<{ Body: S.CreateRegionBody }>(
    '/regions',
    {
      config: {
        access: { roles: ADMINS, levels: ['hq'], scope: scope.none('regions are created by headquarters only') },
        // CONFLICT: a region with this code exists.
        errors: [kernelErrors.INVALID_INPUT, kernelErrors.CONFLICT],
      },
      schema: { summary: 'Create a region (HQ admin)', tags, body: S.CreateRegionBody, response: { 201: S.Region } },
    },
    async (request, reply) => {
      const { reason, ...region } = request.body;
      const created = await createRegion(db, region, operatorActor(request), reason);
      request.log.info({ regionId: created.regionId }, 'region created');
      return reply.status(201).send(created);
    },
  );

  api.get(
    '/stores',
    { config: { access: { roles: ALL_ROLES, scope: OWN_SCOPE }, errors: [] }, schema: { summary: 'Stores in your scope', tags, response: { 200: S.StoreList } } },
    async (request) => ({ stores: await listStores(db, operatorOf(request).scope) }),
  );

  api.post<{ Body: S.CreateStoreBody }>(
    '/stores',
    {
      config: {
        access: {
          roles: ADMINS,
          scope: [newStoreRegion],
        },
        // CONFLICT: a store with this code exists.
        errors: [kernelErrors.INVALID_INPUT, orgErrors.REGION_NOT_FOUND, kernelErrors.CONFLICT],
      },
      schema: {
        summary: 'Create a store in a region (HQ admin, or that region’s admin)',
        tags,
        body: S.CreateStoreBody,
        response: { 201: S.Store },
      },
    },
    async (request, reply) => {
      const { reason, ...store } = request.body;
      const created = await createStore(db, store, operatorActor(request), reason);
      request.log.info({ storeId: created.storeId, regionId: created.regionId }, 'store created');
      return reply.status(201).send(created);
    },
  );

  api.get(
    '/operators',
    {
      config: { access: { roles: ADMINS, scope: OWN_SCOPE }, errors: [] },
      schema: { summary: 'Operators in your scope (admin)', tags, response: { 200: S.OperatorList } },
    },
    async (request) => ({ operators: await listOperators(db, operatorOf(request).scope) }),
  );

  api.post<{ Body: S.CreateOperatorBody }>(
    '/operators',
    {
      config: { access: { roles: ADMINS, scope: [newOperatorScope] }, errors: [kernelErrors.INVALID_INPUT, orgErrors.REGION_NOT_FOUND] },
      schema: {
        summary: 'Create an operator in your scope (admin); the response holds its token, shown only this once',
        tags,
        body: S.CreateOperatorBody,
        response: { 201: S.CreatedOperator },
      },
    },
    async (request, reply) => {
      const { reason, ...input } = request.body;
      const created = await createOperator(db, input, operatorActor(request), reason);
      request.log.info({ createdOperatorId: created.operator.operatorId, role: input.role, scope: input.scope }, 'operator created');
      return reply.status(201).send(created);
    },
  );

  api.post<{ Params: S.OperatorParams; Body: S.ReasonBody }>(
    '/operators/:operatorId/deactivation',
    {
      config: {
        access: {
          roles: ADMINS,
          scope: [scope.of('params', 'operatorId', 'operator', [orgErrors.OPERATOR_NOT_FOUND], async (value) => ({ scope: (await getOperator(db, String(value))).scope }))],
        },
        // CONFLICT: yourself, or an operator already deactivated.
        errors: [kernelErrors.INVALID_INPUT, kernelErrors.CONFLICT],
      },
      schema: {
        summary: 'Deactivate an operator in your scope (admin): their token stops working at once',
        tags,
        params: S.OperatorParams,
        body: S.ReasonBody,
        response: { 200: S.Operator },
      },
    },
    async (request) => {
      const { operatorId } = request.params;
      if (operatorId === operatorOf(request).operatorId) throw kernelErrors.CONFLICT({ zh: '不能停用自己，请另一位管理员操作', en: 'You cannot deactivate yourself; ask another admin' });
      const operator = await deactivateOperator(db, operatorId, operatorActor(request), request.body.reason);
      request.log.info({ deactivatedOperatorId: operatorId }, 'operator deactivated');
      return operator;
    },
  );
}
