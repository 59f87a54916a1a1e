import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { programCardFees } from '../../shared/rules/program.ts';
import type { Database } from '../db/database.ts';
import { MemberParams, ledgerErrors, type Ledger } from '../ledger/index.ts';
import { operatorActor, operatorOf, scope, type DeclaredCode, type OperatorAccess } from '../kernel/access.ts';
import { kernelErrors } from '../kernel/errors.ts';
import type { Role } from '../kernel/principal.ts';
import type { RulesStore } from '../program/index.ts';
import { bindCard, memberByCard, memberByCardNumber } from './card-binding.ts';
import * as C from './card-schemas.ts';
import { type CardChange, CardService, type StatusAction } from './card-service.ts';
import { cardErrors } from './errors.ts';

export interface CardRouteDeps {
  db: Database;
  ledger: Ledger;
  /** The published program rules: every fee is charged by the card fee schedule of the set in force. */
  rules: RulesStore;
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
export function registerCardRoutes(api: FastifyInstance, { db, ledger, rules }: CardRouteDeps): void {
  const cards = new CardService(db, ledger, { feeSchedule: async () => programCardFees((await rules.current()).rules) });
  /** The card in the path: its member must be in the operator's scope. */
  const cardInPath = scope.of('params', 'cardUid', 'card', [cardErrors.CARD_NOT_FOUND, ledgerErrors.INVALID_CARD_UID], async (cardUid) => ({
    member: (await cards.getCard(String(cardUid))).memberId,
  }));
  const cardAccess: OperatorAccess = { roles: CARD_ROLES, scope: [cardInPath] };
  /** A change to the card in the path, made at the body's store or the operator's own. */
  const changeAccess: OperatorAccess = { roles: CARD_ROLES, scope: [cardInPath, scope.actingStore()] };

  function changeBy(request: FastifyRequest, body: C.CardChangeBody) {
    const { storeId: _acting, ...rest } = body;
    const storeId = request.actingStoreId;
    return { ...rest, ...(storeId === undefined ? {} : { storeId }), actor: operatorActor(request), by: operatorOf(request).role };
  }

  function answer(request: FastifyRequest, reply: FastifyReply, what: string, result: CardChange) {
    request.log.info({ card: maskCardUid(result.card.cardUid), memberId: result.card.memberId, replay: result.replay }, what);
    return reply.status(result.replay ? 200 : 201).send(result);
  }

  /** What every change refuses besides the card in the path: a blank reason, a reused key, a card whose state does not allow it. */
  const changeErrors = [kernelErrors.INVALID_INPUT, kernelErrors.IDEMPOTENCY_CONFLICT, cardErrors.CARD_INVALID_STATE] as const;
  /** A change that takes its fee from stored value. */
  const paidChangeErrors = [...changeErrors, ledgerErrors.INSUFFICIENT_BALANCE] as const;

  api.get<{ Params: C.CardParams }>(
    '/cards/:cardUid',
    {
      config: { access: cardAccess, errors: [] },
      schema: { summary: 'A card: type, status, links', tags: ['cards'], params: C.CardParams, response: { 200: C.Card } },
    },
    async (request) => cards.getCard(request.params.cardUid),
  );

  api.get<{ Params: C.CardParams }>(
    '/cards/:cardUid/events',
    {
      config: { access: cardAccess, errors: [] },
      schema: {
        summary: "A card's history (who changed it, when, why), newest first",
        tags: ['cards'],
        params: C.CardParams,
        response: { 200: C.CardEventsResponse },
      },
    },
    async (request) => {
      const card = await cards.getCard(request.params.cardUid);
      return { cardUid: card.cardUid, events: await cards.events(card.cardUid) };
    },
  );

  for (const route of STATUS_ROUTES) {
    api.route<{ Params: C.CardParams; Body: C.CardChangeBody }>({
      method: route.method,
      url: route.path,
      config: { access: changeAccess, errors: changeErrors },
      schema: { summary: route.summary, tags: ['cards'], params: C.CardParams, body: C.CardChangeBody, response: C.CardChangeResponses },
      handler: async (request, reply) => {
        const card = await cards.getCard(request.params.cardUid);
        const result = await cards.changeStatus(route.action, { ...changeBy(request, request.body), cardUid: card.cardUid });
        return answer(request, reply, `card ${route.action}`, result);
      },
    });
  }

  api.post<{ Params: C.CardParams; Body: C.ReplaceCardBody }>(
    '/cards/:cardUid/replace',
    {
      config: { access: changeAccess, errors: [...paidChangeErrors, ledgerErrors.INVALID_CARD_NUMBER, cardErrors.CARD_ALREADY_BOUND] },
      schema: {
        summary: 'Replace a lost or damaged card (补卡): balances stay with the member, supplementary cards follow; the replacement fee is taken from stored value',
        tags: ['cards'],
        params: C.CardParams,
        body: C.ReplaceCardBody,
        response: C.CardChangeResponses,
      },
    },
    async (request, reply) => {
      const card = await cards.getCard(request.params.cardUid);
      const { newCardUid, newCardNumber, replacementReason, ...change } = request.body;
      const result = await cards.replace({
        ...changeBy(request, change),
        cardUid: card.cardUid,
        newCardUid,
        replacementReason,
        ...(newCardNumber === undefined ? {} : { newCardNumber }),
      });
      return answer(request, reply, 'card replaced', result);
    },
  );

  api.post<{ Params: C.CardParams; Body: C.CardFeeBody }>(
    '/cards/:cardUid/fees',
    {
      // CONFLICT: this fee was charged already (for this year).
      config: { access: changeAccess, errors: [...paidChangeErrors, kernelErrors.CONFLICT] },
      schema: {
        summary: "Charge a card's joining fee (once) or annual fee (once a year) from stored value; VIP annual fees are waived",
        tags: ['cards'],
        params: C.CardParams,
        body: C.CardFeeBody,
        response: C.CardChangeResponses,
      },
    },
    async (request, reply) => {
      const card = await cards.getCard(request.params.cardUid);
      const { kind, ...change } = request.body;
      const { by: _role, ...input } = changeBy(request, change);
      const result = await cards.chargeFee({ ...input, cardUid: card.cardUid, kind });
      return answer(request, reply, `card ${kind} fee`, result);
    },
  );

  api.post<{ Params: MemberParams; Body: C.SupplementaryCardBody }>(
    '/members/:memberId/supplementary-cards',
    {
      config: {
        access: { roles: CARD_ROLES, scope: [scope.member(), scope.actingStore()] },
        errors: [
          ...paidChangeErrors,
          ledgerErrors.INVALID_CARD_UID,
          ledgerErrors.INVALID_CARD_NUMBER,
          cardErrors.CARD_NOT_FOUND,
          cardErrors.CARD_ALREADY_BOUND,
          cardErrors.CARD_LOST,
          cardErrors.CARD_FROZEN,
        ],
      },
      schema: {
        summary: "Issue a supplementary card (副卡) linked to one of the member's cards: it spends the member's balances, optionally capped per day",
        tags: ['cards'],
        params: MemberParams,
        body: C.SupplementaryCardBody,
        response: C.CardChangeResponses,
      },
    },
    async (request, reply) => {
      const { memberId } = request.params;
      const { primaryCardUid, cardUid, cardNumber, holderName, dailyLimitFen, ...change } = request.body;
      const result = await cards.issueSupplementary({
        ...changeBy(request, change),
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

  api.post<{ Params: MemberParams; Body: C.BindCardBody }>(
    '/members/:memberId/cards',
    {
      config: {
        access: { roles: CARD_ROLES, scope: [scope.member()] },
        errors: [ledgerErrors.INVALID_CARD_UID, ledgerErrors.INVALID_CARD_NUMBER, cardErrors.CARD_ALREADY_BOUND],
      },
      schema: {
        summary: 'Bind a card, with its card number if it has one, to a member (201 bound now, 200 already bound to this member)',
        tags: ['members'],
        params: MemberParams,
        body: C.BindCardBody,
        response: C.BindCardResponses,
      },
    },
    async (request, reply) => {
      const result = await bindCard(db, ledger, { ...request.body, memberId: request.params.memberId, actor: operatorActor(request) });
      const { cardUid, cardNumber } = result.member;
      const masked = { card: maskCardUid(cardUid), ...(cardNumber === undefined ? {} : { cardNumber: maskCardNumber(cardNumber) }) };
      request.log.info({ memberId: request.params.memberId, ...masked, type: request.body.type ?? 'personal' }, 'card bound');
      return reply.status(result.alreadyBound ? 200 : 201).send(result);
    },
  );

  /**
   * A looked-up card's member must be in scope; an unknown card reaches nothing here (the route answers 404
   * whoever asks). The lookup refuses a malformed UID or number and a card that is not active.
   */
  const heldBy = (field: string, names: string, malformed: DeclaredCode, find: (value: string) => Promise<MemberSnapshot | undefined>) =>
    scope.of('params', field, names, [malformed, cardErrors.CARD_LOST, cardErrors.CARD_FROZEN, cardErrors.CARD_INVALID_STATE], async (value) => {
      const member = typeof value === 'string' ? await find(value) : undefined;
      return member && { member: member.memberId };
    });

  api.get<{ Params: C.CardParams }>(
    '/cards/:cardUid/member',
    {
      config: {
        access: { roles: CARD_ROLES, scope: [heldBy('cardUid', 'card', ledgerErrors.INVALID_CARD_UID, (uid) => memberByCard(db, ledger, uid))] },
        errors: [cardErrors.CARD_NOT_FOUND],
      },
      schema: {
        summary: 'The member holding a card, as a kiosk sees them',
        tags: ['members'],
        params: C.CardParams,
        response: { 200: MemberSnapshot },
      },
    },
    async (request) => {
      const member = await memberByCard(db, ledger, request.params.cardUid);
      if (member) return member;
      throw cardErrors.CARD_NOT_FOUND({ zh: '此卡未登记给任何会员', en: 'This card is not registered to any member.' });
    },
  );

  api.get<{ Params: C.CardNumberParams }>(
    '/card-numbers/:cardNumber/member',
    {
      config: {
        access: {
          roles: CARD_ROLES,
          scope: [heldBy('cardNumber', 'card number', ledgerErrors.INVALID_CARD_NUMBER, (number) => memberByCardNumber(db, ledger, number))],
        },
        errors: [cardErrors.CARD_NOT_FOUND],
      },
      schema: {
        summary: 'The member holding the card with this number (e.g. from a magnetic-stripe swipe), as a kiosk sees them',
        tags: ['members'],
        params: C.CardNumberParams,
        response: { 200: MemberSnapshot },
      },
    },
    async (request) => {
      const member = await memberByCardNumber(db, ledger, request.params.cardNumber);
      if (member) return member;
      throw cardErrors.CARD_NOT_FOUND({ zh: '此卡号未登记给任何会员', en: 'This card number is not registered to any member.' });
    },
  );
}
