import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import type { Actor, Ledger, MovementInput, PostedTransaction } from '../ledger/index.ts';
import * as S from './schemas.ts';

/**
 * Operator authentication arrives with "operators + roles"; until then every REST change is attributed to
 * this one operator identity, so the ledger can already tell API changes from kiosk and system ones.
 */
const REST_ACTOR: Actor = { type: 'operator', id: 'rest-api' };

/** POST routes that move value share one shape: member in the path, idempotent body, 201 first / 200 replay. */
function movementRoute<B extends { idempotencyKey: string }>(
  app: FastifyInstance,
  path: string,
  summary: string,
  body: TSchema,
  apply: (input: MovementInput & B) => Promise<PostedTransaction>,
): void {
  app.post<{ Params: S.MemberParams; Body: B }>(
    `/members/:memberId/${path}`,
    {
      schema: {
        summary,
        tags: ['ledger'],
        params: S.MemberParams,
        body,
        response: { ...S.PostedResponses, ...S.errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await apply({ ...(request.body as B), memberId: request.params.memberId, actor: REST_ACTOR });
      request.log.info({ memberId: request.params.memberId, txId: result.txId, replay: result.replay }, summary);
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );
}

export function registerRoutes(app: FastifyInstance, ledger: Ledger, db: Database): void {
  app.get<{ Reply: { 200: { status: 'ok'; database: Database['backend'] }; 503: { error: { code: string; message: string } } } }>(
    '/health',
    { schema: { summary: 'Liveness and database reachability', tags: ['ops'], response: { 200: S.HealthResponse, ...S.errors(503) } } },
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
    { schema: { summary: 'Register a member', tags: ['members'], body: S.CreateMemberBody, response: { 201: S.Member, ...S.errors(400) } } },
    async (request, reply) => {
      const member = await ledger.createMember({ ...request.body, actor: REST_ACTOR });
      request.log.info({ memberId: member.memberId }, 'member created');
      return reply.status(201).send(member);
    },
  );

  app.get<{ Params: S.MemberParams }>(
    '/members/:memberId',
    { schema: { summary: 'A member with balances', tags: ['members'], params: S.MemberParams, response: { 200: S.Member, ...S.errors(400, 404) } } },
    async (request) => ledger.getMember(request.params.memberId),
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
      const result = await ledger.bindCard({ ...request.body, memberId: request.params.memberId, actor: REST_ACTOR });
      const { cardUid, cardNumber } = result.member;
      const masked = { card: maskCardUid(cardUid), ...(cardNumber === undefined ? {} : { cardNumber: maskCardNumber(cardNumber) }) };
      request.log.info({ memberId: request.params.memberId, ...masked }, 'card bound');
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
      const member = await ledger.findMemberByCard(request.params.cardUid);
      if (member) return member;
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
      const member = await ledger.findMemberByCardNumber(request.params.cardNumber);
      if (member) return member;
      return reply.status(404).send({ error: { code: 'CARD_NOT_FOUND', message: 'This card number is not registered to any member.' } });
    },
  );

  movementRoute<S.StoredValueBody>(app, 'topups', 'Cash top-up of stored value', S.StoredValueBody, (input) => ledger.topUpCash(input));
  movementRoute<S.StoredValueBody>(app, 'payments', 'Pay with stored value', S.StoredValueBody, (input) =>
    ledger.payWithStoredValue(input),
  );
  movementRoute<S.PointsAdjustmentBody>(app, 'points-adjustments', 'Grant or take back points', S.PointsAdjustmentBody, (input) =>
    ledger.adjustPoints(input),
  );
  movementRoute<S.RedemptionBody>(app, 'redemptions', 'Redeem points for an item', S.RedemptionBody, (input) =>
    ledger.redeemPoints(input),
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
    async (request) => ledger.statement(request.params.memberId, { limit: request.query.limit }),
  );
}
