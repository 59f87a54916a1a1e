import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskCardUid } from '../../shared/card.ts';
import { programCardFees, type ProgramRules } from '../../shared/rules/program.ts';
import type { Database } from '../db/database.ts';
import * as S from '../http/schemas.ts';
import { actingStoreOf, assertMemberInScope, operatorActor, requireRole } from '../org/access.ts';
import type { Role } from '../org/principal.ts';
import * as C from './card-schemas.ts';
import { type CardChange, CardService, type StatusAction } from './card-service.ts';

export interface CardRouteDeps {
  db: Database;
  /** The program rules in force (the hub's latest published set): every fee is charged by their card fee schedule. */
  rules: () => Promise<ProgramRules>;
}

/**
 * Who may reach the card routes at all. Which lifecycle change each role may make is the rules' table
 * (shared/rules/cards.ts: e.g. only managers and admins freeze), checked by the service; technicians look
 * after kiosks, not members.
 */
const CARD_ROLES: readonly Role[] = ['admin', 'manager', 'cashier'];

const STATUS_ROUTES: ReadonlyArray<{ method: 'POST' | 'DELETE'; path: string; action: StatusAction; summary: string }> = [
  { method: 'POST', path: '/cards/:cardUid/loss', action: 'report_loss', summary: 'Report a card lost (挂失): it stops identifying the member and paying' },
  { method: 'DELETE', path: '/cards/:cardUid/loss', action: 'cancel_loss', summary: 'Cancel a loss report (解挂): the card works again' },
  { method: 'POST', path: '/cards/:cardUid/freeze', action: 'freeze', summary: 'Freeze a card (冻结; managers and admins)' },
  { method: 'POST', path: '/cards/:cardUid/unfreeze', action: 'unfreeze', summary: 'Unfreeze a card (解冻; managers and admins)' },
  { method: 'POST', path: '/cards/:cardUid/cancel', action: 'cancel', summary: 'Cancel a card for good (注销; managers and admins)' },
];

/**
 * The card lifecycle over REST. Every change needs a reason and an idempotency key, is attributed to the
 * signed-in operator, and reaches only cards whose member is in the operator's scope. 201 when done now,
 * 200 with the first result when the key was used before.
 */
export function registerCardRoutes(api: FastifyInstance, { db, rules }: CardRouteDeps): void {
  const cards = new CardService(db, { feeSchedule: async () => programCardFees(await rules()) });
  /** The operator may act on this card's member; the card's view for the handler. */
  async function cardInScope(request: FastifyRequest, cardUid: string) {
    requireRole(request, CARD_ROLES);
    const card = await cards.getCard(cardUid);
    await assertMemberInScope(db, request, card.memberId);
    return card;
  }

  async function changeBy(request: FastifyRequest, body: C.CardChangeBody) {
    const { storeId: _ignored, ...rest } = body;
    const storeId = await actingStoreOf(db, request, body.storeId);
    return { ...rest, ...(storeId === undefined ? {} : { storeId }), actor: operatorActor(request), by: request.operator!.role };
  }

  function answer(request: FastifyRequest, reply: FastifyReply, what: string, result: CardChange) {
    request.log.info({ card: maskCardUid(result.card.cardUid), memberId: result.card.memberId, replay: result.replay }, what);
    return reply.status(result.replay ? 200 : 201).send(result);
  }

  const changeResponses = { ...C.CardChangeResponses, ...S.errors(400, 404, 409) };

  api.get<{ Params: S.CardParams }>(
    '/cards/:cardUid',
    { schema: { summary: 'A card: type, status, links', tags: ['cards'], params: S.CardParams, response: { 200: C.Card, ...S.errors(400, 404) } } },
    async (request) => cardInScope(request, request.params.cardUid),
  );

  api.get<{ Params: S.CardParams }>(
    '/cards/:cardUid/events',
    {
      schema: {
        summary: "A card's history (who changed it, when, why), newest first",
        tags: ['cards'],
        params: S.CardParams,
        response: { 200: C.CardEventsResponse, ...S.errors(400, 404) },
      },
    },
    async (request) => {
      const card = await cardInScope(request, request.params.cardUid);
      return { cardUid: card.cardUid, events: await cards.events(card.cardUid) };
    },
  );

  for (const route of STATUS_ROUTES) {
    api.route<{ Params: S.CardParams; Body: C.CardChangeBody }>({
      method: route.method,
      url: route.path,
      schema: { summary: route.summary, tags: ['cards'], params: S.CardParams, body: C.CardChangeBody, response: changeResponses },
      handler: async (request, reply) => {
        const card = await cardInScope(request, request.params.cardUid);
        const result = await cards.changeStatus(route.action, { ...(await changeBy(request, request.body)), cardUid: card.cardUid });
        return answer(request, reply, `card ${route.action}`, result);
      },
    });
  }

  api.post<{ Params: S.CardParams; Body: C.ReplaceCardBody }>(
    '/cards/:cardUid/replace',
    {
      schema: {
        summary: 'Replace a lost or damaged card (补卡): balances stay with the member, supplementary cards follow; the replacement fee is taken from stored value',
        tags: ['cards'],
        params: S.CardParams,
        body: C.ReplaceCardBody,
        response: changeResponses,
      },
    },
    async (request, reply) => {
      const card = await cardInScope(request, request.params.cardUid);
      const { newCardUid, newCardNumber, replacementReason, ...change } = request.body;
      const result = await cards.replace({
        ...(await changeBy(request, change)),
        cardUid: card.cardUid,
        newCardUid,
        replacementReason,
        ...(newCardNumber === undefined ? {} : { newCardNumber }),
      });
      return answer(request, reply, 'card replaced', result);
    },
  );

  api.post<{ Params: S.CardParams; Body: C.CardFeeBody }>(
    '/cards/:cardUid/fees',
    {
      schema: {
        summary: "Charge a card's joining fee (once) or annual fee (once a year) from stored value; VIP annual fees are waived",
        tags: ['cards'],
        params: S.CardParams,
        body: C.CardFeeBody,
        response: changeResponses,
      },
    },
    async (request, reply) => {
      const card = await cardInScope(request, request.params.cardUid);
      const { kind, ...change } = request.body;
      const { by: _role, ...input } = await changeBy(request, change);
      const result = await cards.chargeFee({ ...input, cardUid: card.cardUid, kind });
      return answer(request, reply, `card ${kind} fee`, result);
    },
  );

  api.post<{ Params: S.MemberParams; Body: C.SupplementaryCardBody }>(
    '/members/:memberId/supplementary-cards',
    {
      schema: {
        summary: "Issue a supplementary card (副卡) linked to one of the member's cards: it spends the member's balances, optionally capped per day",
        tags: ['cards'],
        params: S.MemberParams,
        body: C.SupplementaryCardBody,
        response: changeResponses,
      },
    },
    async (request, reply) => {
      requireRole(request, CARD_ROLES);
      const { memberId } = request.params;
      await assertMemberInScope(db, request, memberId);
      const { primaryCardUid, cardUid, cardNumber, holderName, dailyLimitFen, ...change } = request.body;
      const result = await cards.issueSupplementary({
        ...(await changeBy(request, change)),
        memberId,
        primaryCardUid,
        cardUid,
        holderName,
        ...(cardNumber === undefined ? {} : { cardNumber }),
        ...(dailyLimitFen === undefined ? {} : { dailyLimitFen }),
      });
      return answer(request, reply, 'supplementary card issued', result);
    },
  );
}
