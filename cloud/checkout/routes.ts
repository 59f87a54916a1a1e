import type { FastifyInstance } from 'fastify';
import { cardErrors } from '../cards/index.ts';
import { couponErrors } from '../coupons/index.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { ledgerErrors } from '../ledger/index.ts';
import { programErrors } from '../program/index.ts';
import { operatorActor, scope } from '../kernel/access.ts';
import { getCheckout, payCheckout, quoteCheckout, type PayDeps } from './checkout.ts';
import { refundCheckout } from './refund.ts';
import * as S from './schemas.ts';

/** Sales are priced with the latest published program rules and recorded in the ledger. */
export type CheckoutRouteDeps = PayDeps;

const tags = ['checkout'];
const CASHIERS = ['admin', 'manager', 'cashier'] as const;
/** Giving money back is a manager's decision. */
const REFUNDERS = ['admin', 'manager'] as const;

/** What pricing a basket can be refused with: the member, the basket, the coupon named. */
const BASKET_REFUSALS = [
  ledgerErrors.MEMBER_NOT_FOUND,
  kernelErrors.INVALID_INPUT,
  ledgerErrors.INVALID_AMOUNT,
  couponErrors.COUPON_NOT_FOUND,
  couponErrors.COUPON_NOT_APPLICABLE,
  couponErrors.COUPON_ALREADY_USED,
];

/** A card presented with a payment: its UID, and whether it is the member's and may pay (the cards module decides). */
const CARD_REFUSALS = [
  ledgerErrors.INVALID_CARD_UID,
  cardErrors.CARD_NOT_FOUND,
  cardErrors.CARD_LOST,
  cardErrors.CARD_FROZEN,
  cardErrors.CARD_INVALID_STATE,
  cardErrors.CARD_DAILY_LIMIT_EXCEEDED,
];

/** POS checkout: quote, pay, look up, refund. A sale happens at a store, which must be in the operator's scope. */
export function registerCheckoutRoutes(api: FastifyInstance, deps: CheckoutRouteDeps): void {
  const { db, ledger } = deps;
  /** The store of the checkout in the path. */
  const checkoutInPath = scope.of('params', 'checkoutId', 'checkout', [kernelErrors.NOT_FOUND], async (checkoutId) => ({
    store: (await getCheckout(db, checkoutId)).storeId,
  }));

  api.post<{ Body: S.QuoteBody }>(
    '/checkout/quote',
    {
      config: { access: { roles: CASHIERS, scope: [scope.store()] }, errors: BASKET_REFUSALS },
      schema: {
        summary: 'Price a basket for a member (tier discount, then one coupon); optionally plan a payment. Changes nothing.',
        tags,
        body: S.QuoteBody,
        response: { 200: S.Quote },
      },
    },
    async (request) => quoteCheckout(deps, request.body),
  );

  api.post<{ Body: S.PayBody }>(
    '/checkout',
    {
      config: {
        access: { roles: CASHIERS, scope: [scope.store()] },
        errors: [
          ...BASKET_REFUSALS,
          ...CARD_REFUSALS,
          ledgerErrors.INSUFFICIENT_BALANCE,
          ledgerErrors.INSUFFICIENT_POINTS,
          programErrors.BUDGET_EXCEEDED,
          kernelErrors.IDEMPOTENCY_CONFLICT,
        ],
      },
      schema: {
        summary: 'Pay a basket with any mix of points, stored value and cash summing to the payable amount; earns points on the money paid',
        tags,
        body: S.PayBody,
        response: S.PaidResponses,
      },
    },
    async (request, reply) => {
      const result = await payCheckout(deps, { ...request.body, actor: operatorActor(request) });
      request.log.info({ checkoutId: result.receipt.checkoutId, txId: result.receipt.txId, replay: result.replay }, 'checkout paid');
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );

  api.get<{ Params: S.CheckoutParams }>(
    '/checkout/:checkoutId',
    {
      config: { access: { roles: CASHIERS, scope: [checkoutInPath] }, errors: [] },
      schema: { summary: 'A checkout receipt', tags, params: S.CheckoutParams, response: { 200: S.Receipt } },
    },
    async (request) => getCheckout(db, request.params.checkoutId),
  );

  api.post<{ Params: S.CheckoutParams; Body: S.RefundBody }>(
    '/checkout/:checkoutId/refund',
    {
      config: {
        access: { roles: REFUNDERS, scope: [checkoutInPath] },
        errors: [kernelErrors.INVALID_INPUT, kernelErrors.IDEMPOTENCY_CONFLICT, ledgerErrors.ALREADY_REFUNDED, ledgerErrors.NOT_REFUNDABLE],
      },
      schema: {
        summary: 'Refund a checkout: every effect reversed exactly once (stored value, points spent and earned, coupon back to issued)',
        description:
          '409: ALREADY_REFUNDED, NOT_REFUNDABLE (the points it earned were spent meanwhile: refund that spending first), IDEMPOTENCY_CONFLICT. ' +
          'A refusal changes nothing.',
        tags,
        params: S.CheckoutParams,
        body: S.RefundBody,
        response: S.PaidResponses,
      },
    },
    async (request, reply) => {
      const result = await refundCheckout(db, ledger, { ...request.body, checkoutId: request.params.checkoutId, actor: operatorActor(request) });
      request.log.info({ checkoutId: result.receipt.checkoutId, replay: result.replay }, 'checkout refunded');
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );
}
