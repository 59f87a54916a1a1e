import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { Database } from '../db/database.ts';
import { Ledger } from '../ledger/index.ts';
import { errorReply } from './errors.ts';
import { registerRoutes } from './routes.ts';
import { typeboxValidatorCompiler } from './validation.ts';

export const API_PREFIX = '/api/v1';

export interface HttpAppOptions {
  db: Database;
  logger: Logger;
}

/** The hub's REST API with its OpenAPI document at /docs (JSON at /docs/json). Ready to listen; not listening. */
export async function buildHttpApp({ db, logger }: HttpAppOptions): Promise<FastifyInstance> {
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
          'Every error is `{ error: { code, message } }`: 400 invalid request, 404 unknown member/card, ' +
          '409 refused by the ledger (insufficient balance or points, idempotency conflict, card already bound).',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(async (api) => registerRoutes(api, new Ledger(db), db), { prefix: API_PREFIX });
  return app;
}
