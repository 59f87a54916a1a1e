import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { Database } from '../db/database.ts';
import { Ledger } from '../ledger/index.ts';
import { installOperatorAuth } from '../org/auth.ts';
import { registerOrgRoutes } from '../org/routes.ts';
import { registerCardRoutes } from '../cards/card-routes.ts';
import { registerCatalogRoutes } from '../catalog/routes.ts';
import { generateVoucherSigningKey, type VoucherSigningKey } from '../catalog/signing-key.ts';
import { registerCheckoutRoutes } from '../checkout/routes.ts';
import { registerCouponRoutes } from '../coupons/routes.ts';
import { registerProgramRoutes } from '../program/routes.ts';
import { RulesStore } from '../program/rules-store.ts';
import { errorReply } from './errors.ts';
import { registerRefundAndPointsRoutes } from './refund-and-points-routes.ts';
import { registerRoutes } from './routes.ts';
import { typeboxValidatorCompiler } from './validation.ts';

export const API_PREFIX = '/api/v1';

export interface HttpAppOptions {
  db: Database;
  logger: Logger;
  /** The hub's published program rules (shared with the device gateway); default: a store on `db`. */
  rules?: RulesStore;
  /** The key vouchers are signed with. The hub passes its lasting key; the default (tests, tools) lasts only this process. */
  voucherKey?: VoucherSigningKey;
}

/** The hub's REST API with its OpenAPI document at /docs (JSON at /docs/json). Ready to listen; not listening. */
export async function buildHttpApp({ db, logger, rules = new RulesStore(db), voucherKey = generateVoucherSigningKey() }: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as Fastify's base logger so the app is a plain FastifyInstance for callers (pino satisfies it).
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines log the raw URL, which can hold a card UID or number; we log the route pattern instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  app.setValidatorCompiler(typeboxValidatorCompiler);

  app.setErrorHandler((error, request, reply) => {
    const { status, error: body } = errorReply(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code }, 'request refused');
    return reply.status(status).send({ error: body });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No such endpoint: ${request.method} ${request.url.split('?')[0]}` } }),
  );
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'member-kiosk hub',
        version: '1',
        description:
          'Members, cards and the double-entry ledger. Amounts are whole fen (¥1 = 100) and whole points. ' +
          'Every route except /health needs an operator token: `Authorization: Bearer <token>`. An operator has one ' +
          'role (admin, manager, cashier, technician) and one scope (HQ, a region, a store) and reaches only the members ' +
          "and stores in that scope. Every error is `{ error: { code, message } }`: 400 invalid request, 401 no valid " +
          'token, 403 outside your role or scope, 404 unknown member/card/store, ' +
          '409 refused by the ledger (insufficient balance or points, idempotency conflict, card already bound).',
      },
      components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer', description: 'Operator token (mko_…)' } } },
      security: [{ operatorToken: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  installOperatorAuth(app, db, API_PREFIX);
  await app.register(
    async (api) => {
      registerRoutes(api, new Ledger(db), db, rules);
      registerOrgRoutes(api, { db });
      registerCouponRoutes(api, { db });
      registerProgramRoutes(api, { db, rules });
      registerCheckoutRoutes(api, { db, program: () => rules.current() });
      registerRefundAndPointsRoutes(api, { db });
      registerCardRoutes(api, { db, rules: async () => (await rules.current()).rules });
      await registerCatalogRoutes(api, { db, logger, rules: async () => (await rules.current()).rules, voucherKey });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
