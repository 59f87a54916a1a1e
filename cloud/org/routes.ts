import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { errors } from '../http/schemas.ts';
import { assertScopeInScope, operatorActor, principalOf, requireRole } from './access.ts';
import { createOperator, deactivateOperator, getOperator, listOperators } from './operators.ts';
import { settlementReport } from './settlement.ts';
import * as S from './schemas.ts';
import { createRegion, createStore, listRegions, listStores } from './structure.ts';

export interface OrgRouteDeps {
  db: Database;
}

const tags = ['org'];
const SETTLEMENT_ROLES = ['admin', 'manager'] as const;

/**
 * The organisation over REST: who am I, regions, stores and operators. Only admins change it, and only inside
 * their own scope (an HQ admin anywhere, a region admin in their region, a store admin in their store); every
 * change is audited with the operator and the reason given. Register inside the API prefix.
 */
export function registerOrgRoutes(api: FastifyInstance, { db }: OrgRouteDeps): void {
  api.get('/me', { schema: { summary: 'The signed-in operator: role and scope', tags, response: { 200: S.Me, ...errors() } } }, async (request) =>
    principalOf(request),
  );

  api.get(
    '/regions',
    { schema: { summary: 'Regions in your scope', tags, response: { 200: S.RegionList, ...errors() } } },
    async (request) => ({ regions: await listRegions(db, principalOf(request).scope) }),
  );

  api.post<{ Body: S.CreateRegionBody }>(
    '/regions',
    { schema: { summary: 'Create a region (HQ admin)', tags, body: S.CreateRegionBody, response: { 201: S.Region, ...errors(400, 409) } } },
    async (request, reply) => {
      requireRole(request, ['admin']);
      await assertScopeInScope(db, request, { level: 'hq', id: 'hq' });
      const { reason, ...region } = request.body;
      const created = await createRegion(db, region, operatorActor(request), reason);
      request.log.info({ regionId: created.regionId }, 'region created');
      return reply.status(201).send(created);
    },
  );

  api.get(
    '/stores',
    { schema: { summary: 'Stores in your scope', tags, response: { 200: S.StoreList, ...errors() } } },
    async (request) => ({ stores: await listStores(db, principalOf(request).scope) }),
  );

  api.post<{ Body: S.CreateStoreBody }>(
    '/stores',
    {
      schema: {
        summary: 'Create a store in a region (HQ admin, or that region’s admin)',
        tags,
        body: S.CreateStoreBody,
        response: { 201: S.Store, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin']);
      const { reason, ...store } = request.body;
      await assertScopeInScope(db, request, { level: 'region', id: store.regionId });
      const created = await createStore(db, store, operatorActor(request), reason);
      request.log.info({ storeId: created.storeId, regionId: created.regionId }, 'store created');
      return reply.status(201).send(created);
    },
  );

  api.get(
    '/operators',
    { schema: { summary: 'Operators in your scope (admin)', tags, response: { 200: S.OperatorList, ...errors() } } },
    async (request) => ({ operators: await listOperators(db, requireRole(request, ['admin']).scope) }),
  );

  api.post<{ Body: S.CreateOperatorBody }>(
    '/operators',
    {
      schema: {
        summary: 'Create an operator in your scope (admin); the response holds its token, shown only this once',
        tags,
        body: S.CreateOperatorBody,
        response: { 201: S.CreatedOperator, ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      requireRole(request, ['admin']);
      const { reason, ...input } = request.body;
      await assertScopeInScope(db, request, input.scope);
      const created = await createOperator(db, input, operatorActor(request), reason);
      request.log.info({ createdOperatorId: created.operator.operatorId, role: input.role, scope: input.scope }, 'operator created');
      return reply.status(201).send(created);
    },
  );

  api.post<{ Params: S.OperatorParams; Body: S.ReasonBody }>(
    '/operators/:operatorId/deactivation',
    {
      schema: {
        summary: 'Deactivate an operator in your scope (admin): their token stops working at once',
        tags,
        params: S.OperatorParams,
        body: S.ReasonBody,
        response: { 200: S.Operator, ...errors(400, 404, 409) },
      },
    },
    async (request) => {
      const principal = requireRole(request, ['admin']);
      const { operatorId } = request.params;
      if (operatorId === principal.operatorId) throw new LedgerError('CONFLICT', 'You cannot deactivate yourself; ask another admin.');
      await assertScopeInScope(db, request, (await getOperator(db, operatorId)).scope);
      const operator = await deactivateOperator(db, operatorId, operatorActor(request), request.body.reason);
      request.log.info({ deactivatedOperatorId: operatorId }, 'operator deactivated');
      return operator;
    },
  );

  api.get<{ Querystring: S.SettlementQuery }>(
    '/settlement',
    {
      schema: {
        summary: 'Cross-store settlement for a period: what each store owes HQ or is owed (HQ or region admin or manager)',
        tags,
        querystring: S.SettlementQuery,
        response: { 200: S.SettlementReport, ...errors(400) },
      },
    },
    async (request) => {
      const { scope } = requireRole(request, SETTLEMENT_ROLES);
      if (scope.level === 'store') throw new LedgerError('FORBIDDEN', 'Settlement is for headquarters and region operators; ask your region for your store’s line.');
      return settlementReport(db, scope, { from: new Date(request.query.from), to: new Date(request.query.to) });
    },
  );
}
