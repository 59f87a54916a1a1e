import type { FastifyInstance } from 'fastify';
import { errors } from '../kernel/schemas.ts';
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

/** POS checkout: quote, pay, look up, refund. A sale happens at a store, which must be in the operator's scope. */
export function registerCheckoutRoutes(api: FastifyInstance, deps: CheckoutRouteDeps): void {
  const { db, ledger } = deps;
  /** The store of the checkout in the path. */
  const checkoutInPath = scope.of('params', 'checkoutId', 'checkout', [{ code: 'NOT_FOUND', status: 404 }], async (checkoutId) => ({
    store: (await getCheckout(db, checkoutId)).storeId,
  }));

  api.post<{ Body: S.QuoteBody }>(
    '/checkout/quote',
    {
      config: { access: { roles: CASHIERS, scope: [scope.store()] } },
      schema: {
        summary: 'Price a basket for a member (tier discount, then one coupon); optionally plan a payment. Changes nothing.',
        tags,
        body: S.QuoteBody,
        response: { 200: S.Quote, ...errors(400, 404, 409) },
      },
    },
    async (request) => quoteCheckout(deps, request.body),
  );

  api.post<{ Body: S.PayBody }>(
    '/checkout',
    {
      config: { access: { roles: CASHIERS, scope: [scope.store()] } },
      schema: {
        summary: 'Pay a basket with any mix of points, stored value and cash summing to the payable amount; earns points on the money paid',
        tags,
        body: S.PayBody,
        response: { ...S.PaidResponses, ...errors(400, 404, 409) },
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
      config: { access: { roles: CASHIERS, scope: [checkoutInPath] } },
      schema: { summary: 'A checkout receipt', tags, params: S.CheckoutParams, response: { 200: S.Receipt, ...errors(400, 404) } },
    },
    async (request) => getCheckout(db, request.params.checkoutId),
  );

  api.post<{ Params: S.CheckoutParams; Body: S.RefundBody }>(
    '/checkout/:checkoutId/refund',
    {
      config: { access: { roles: REFUNDERS, scope: [checkoutInPath] } },
      schema: {
        summary: 'Refund a checkout: every effect reversed exactly once (stored value, points spent and earned, coupon back to issued)',
        tags,
        params: S.CheckoutParams,
        body: S.RefundBody,
        response: { ...S.PaidResponses, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await refundCheckout(db, ledger, { ...request.body, checkoutId: request.params.checkoutId, actor: operatorActor(request) });
      request.log.info({ checkoutId: result.receipt.checkoutId, replay: result.replay }, 'checkout refunded');
      return reply.status(result.replay ? 200 : 201).send(result);
    },
  );
}
