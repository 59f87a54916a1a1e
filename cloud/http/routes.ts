import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import type { Ledger, MovementInput, PostedTransaction } from '../ledger/index.ts';
import { actingStoreOf, assertMemberInScope, operatorActor, requireRole } from '../org/access.ts';
import type { Role } from '../org/principal.ts';
import type { RulesStore } from '../program/rules-store.ts';
import { refreshMemberTier } from '../program/tiers.ts';
import * as S from './schemas.ts';

/**
 * Who may use the member routes. Technicians look after kiosks, not members, so they see no member data;
 * discretionary points grants are for managers and admins. Scope (which stores' members) is checked per request.
 */
const MEMBER_ROLES: readonly Role[] = ['admin', 'manager', 'cashier'];
const POINTS_ADJUSTMENT_ROLES: readonly Role[] = ['admin', 'manager'];

/** POST routes that move value share one shape: member in the path, idempotent body, 201 first / 200 replay. */
function movementRoute<B extends { idempotencyKey: string; storeId?: string }>(
  app: FastifyInstance,
  db: Database,
  route: { path: string; summary: string; body: TSchema; roles: readonly Role[] },
  apply: (input: MovementInput & B) => Promise<PostedTransaction>,
): void {
  app.post<{ Params: S.MemberParams; Body: B }>(
    `/members/:memberId/${route.path}`,
    {
      schema: {
        summary: route.summary,
        tags: ['ledger'],
        params: S.MemberParams,
        body: route.body,
        response: { ...S.PostedResponses, ...S.errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      requireRole(request, route.roles);
      const { memberId } = request.params;
      await assertMemberInScope(db, request, memberId);
      const body = request.body as B;
      const storeId = await actingStoreOf(db, request, body.storeId);
      const result = await apply({ ...body, memberId, actor: operatorActor(request), ...(storeId === undefined ? {} : { storeId }) });
      request.log.info({ memberId, storeId, txId: result.txId, replay: result.replay }, route.summary);
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );
}

export function registerRoutes(app: FastifyInstance, ledger: Ledger, db: Database, program: RulesStore): void {
  app.get<{ Reply: { 200: { status: 'ok'; database: Database['backend'] }; 503: { error: { code: string; message: string } } } }>(
    '/health',
    {
      schema: {
        summary: 'Liveness and database reachability (no token needed)',
        tags: ['ops'],
        security: [],
        response: { 200: S.HealthResponse, ...S.publicErrors(503) },
      },
    },
    async (request, reply) => {
      try {
        await db.query('SELECT 1');
      } catch (error) {
        request.log.error({ err: error }, 'health check: database unreachable');
        return reply.status(503).send({ error: { code: 'DATABASE_UNAVAILABLE', message: 'The hub cannot reach its database.' } });
      }
      return { status: 'ok', database: db.backend };
    },
  );

  app.post<{ Body: S.CreateMemberBody }>(
    '/members',
    {
      schema: {
        summary: "Register a member at a home store (the body's storeId, else the operator's store)",
        tags: ['members'],
        body: S.CreateMemberBody,
        response: { 201: S.Member, ...S.errors(400, 404) },
      },
    },
    async (request, reply) => {
      requireRole(request, MEMBER_ROLES);
      const { storeId, ...details } = request.body;
      const homeStoreId = await actingStoreOf(db, request, storeId);
      if (homeStoreId === undefined) {
        throw new LedgerError('INVALID_INPUT', 'storeId is required: name the home store of the new member (you are not signed in at a store).');
      }
      const member = await ledger.createMember({ ...details, homeStoreId, actor: operatorActor(request) });
      request.log.info({ memberId: member.memberId, homeStoreId }, 'member created');
      return reply.status(201).send(member);
    },
  );

  app.get<{ Params: S.MemberParams }>(
    '/members/:memberId',
    { schema: { summary: 'A member with balances', tags: ['members'], params: S.MemberParams, response: { 200: S.Member, ...S.errors(400, 404) } } },
    async (request) => {
      requireRole(request, MEMBER_ROLES);
      await assertMemberInScope(db, request, request.params.memberId);
      return ledger.getMember(request.params.memberId);
    },
  );

  app.post<{ Params: S.MemberParams; Body: S.BindCardBody }>(
    '/members/:memberId/cards',
    {
      schema: {
        summary: 'Bind a card, with its card number if it has one, to a member (201 bound now, 200 already bound to this member)',
        tags: ['members'],
        params: S.MemberParams,
        body: S.BindCardBody,
        response: { ...S.BindCardResponses, ...S.errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      requireRole(request, MEMBER_ROLES);
      await assertMemberInScope(db, request, request.params.memberId);
      const result = await ledger.bindCard({ ...request.body, memberId: request.params.memberId, actor: operatorActor(request) });
      const { cardUid, cardNumber } = result.member;
      const masked = { card: maskCardUid(cardUid), ...(cardNumber === undefined ? {} : { cardNumber: maskCardNumber(cardNumber) }) };
      request.log.info({ memberId: request.params.memberId, ...masked, type: request.body.type ?? 'personal' }, 'card bound');
      return reply.status(result.alreadyBound ? 200 : 201).send(result);
    },
  );

  app.get<{ Params: S.CardParams }>(
    '/cards/:cardUid/member',
    {
      schema: {
        summary: 'The member holding a card, as a kiosk sees them',
        tags: ['members'],
        params: S.CardParams,
        response: { 200: MemberSnapshot, ...S.errors(400, 404) },
      },
    },
    async (request, reply) => {
      requireRole(request, MEMBER_ROLES);
      const member = await ledger.findMemberByCard(request.params.cardUid);
      if (member) {
        await assertMemberInScope(db, request, member.memberId);
        return member;
      }
      return reply.status(404).send({ error: { code: 'CARD_NOT_FOUND', message: 'This card is not registered to any member.' } });
    },
  );

  app.get<{ Params: S.CardNumberParams }>(
    '/card-numbers/:cardNumber/member',
    {
      schema: {
        summary: 'The member holding the card with this number (e.g. from a magnetic-stripe swipe), as a kiosk sees them',
        tags: ['members'],
        params: S.CardNumberParams,
        response: { 200: MemberSnapshot, ...S.errors(400, 404) },
      },
    },
    async (request, reply) => {
      requireRole(request, MEMBER_ROLES);
      const member = await ledger.findMemberByCardNumber(request.params.cardNumber);
      if (member) {
        await assertMemberInScope(db, request, member.memberId);
        return member;
      }
      return reply.status(404).send({ error: { code: 'CARD_NOT_FOUND', message: 'This card number is not registered to any member.' } });
    },
  );

  // Each movement is priced with the program rules published at the moment it is made.
  const movement = { body: S.StoredValueBody, roles: MEMBER_ROLES };
  movementRoute<S.StoredValueBody>(app, db, { ...movement, path: 'topups', summary: 'Cash top-up of stored value (with the top-up bonus in force)' }, async (input) => {
    const { rules } = await program.current();
    return ledger.topUpCash({ ...input, bonusRules: rules.topUpBonus, pointsExpiry: rules.pointsExpiry });
  });
  movementRoute<S.StoredValueBody>(
    app,
    db,
    { ...movement, path: 'payments', summary: "Pay with stored value (principal and bonus in the program's spending order)" },
    async (input) => {
      const published = await program.current();
      const paid = await ledger.payWithStoredValue({ ...input, spendingOrder: published.rules.spendingOrder });
      if (paid.replay) return paid;
      // Spend counts towards the tier at once (upgrade is immediate; downgrades wait for the review).
      const at = new Date();
      const { upgraded } = await refreshMemberTier(db, input.memberId, { program: published, at, actor: input.actor, reason: 'Qualifying stored-value spend' });
      return upgraded ? { ...paid, member: await ledger.getMember(input.memberId) } : paid;
    },
  );
  movementRoute<S.PointsAdjustmentBody>(
    app,
    db,
    { path: 'points-adjustments', summary: 'Grant or take back points (manager or admin)', body: S.PointsAdjustmentBody, roles: POINTS_ADJUSTMENT_ROLES },
    async (input) => ledger.adjustPoints({ ...input, pointsExpiry: (await program.current()).rules.pointsExpiry }),
  );
  movementRoute<S.RedemptionBody>(
    app,
    db,
    { path: 'redemptions', summary: 'Redeem points for an item', body: S.RedemptionBody, roles: MEMBER_ROLES },
    (input) => ledger.redeemPoints(input),
  );

  app.get<{ Params: S.MemberParams; Querystring: S.StatementQuery }>(
    '/members/:memberId/statement',
    {
      schema: {
        summary: "The member's latest ledger entries, newest first",
        tags: ['ledger'],
        params: S.MemberParams,
        querystring: S.StatementQuery,
        response: { 200: S.StatementResponse, ...S.errors(400, 404) },
      },
    },
    async (request) => {
      requireRole(request, MEMBER_ROLES);
      await assertMemberInScope(db, request, request.params.memberId);
      return ledger.statement(request.params.memberId, { limit: request.query.limit });
    },
  );
}
