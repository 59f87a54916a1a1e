/**
 * The hub's HTTP surface, assembled in one place from the modules: every module's `routes` plugin under
 * /api/v1 and its `pages` at the root, behind the access hooks (access.ts), with the TypeBox validator, one
 * error body `{ error: { code, message } }`, and an OpenAPI document at /docs (JSON at /docs/json) in which
 * each route lists the error codes it can answer — the ones it declares in `config.errors`, plus 401/403 and
 * what its access sources answer, plus 400 VALIDATION_FAILED and BAD_REQUEST, plus 500.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type, type TSchema } from '@sinclair/typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { Database } from '../db/database.ts';
import { accessCodes, installAccess, type AccessDirectory, type DeclaredCode, type RouteAccess } from './access.ts';
import { errorReply } from './error-reply.ts';
import { kernelErrors } from './errors.ts';
import type { HubModule } from './module.ts';
import { typeboxValidatorCompiler } from './validation.ts';

export const API_PREFIX = '/api/v1';

/** One registered route and what it declares, for the route walk test and for people (docs). */
export interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
  /** The refusals it declares (config.errors), without those every route or its access adds. */
  readonly errors: readonly DeclaredCode[];
  /** Left out of the OpenAPI document (a page). */
  readonly hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the hub with its access declaration, in registration order. */
    readonly declaredRoutes: readonly DeclaredRoute[];
  }
  interface FastifyContextConfig {
    /** The refusals this route can answer besides the ones every route can (see the module comment); every hub route lists them, [] for none. */
    errors?: readonly DeclaredCode[];
    /** Filled by the kernel: every code the route may answer, for the check in the error handler. */
    declaredCodes?: ReadonlySet<string>;
  }
}

export interface HttpAppOptions {
  db: Database;
  logger: Logger;
  directory: AccessDirectory;
  modules: readonly HubModule[];
  /**
   * Answer 500 (and log it) when a route refuses with a code it does not declare. Tests turn it on, so a
   * route whose OpenAPI misses a code it answers fails its test; in production the answer goes out and is logged.
   */
  strictErrorCodes?: boolean;
}

const INTERNAL_ERROR = { code: 'INTERNAL_ERROR', status: 500 };

const EVERY_ROUTE: readonly DeclaredCode[] = [kernelErrors.VALIDATION_FAILED, kernelErrors.BAD_REQUEST];

const ErrorBodyOf = (codes: readonly string[]) =>
  Type.Object(
    {
      error: Type.Object(
        {
          code: Type.Unsafe<string>({ type: 'string', enum: [...codes] }),
          message: Type.String({ description: 'For people: Chinese / English' }),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, description: codes.join(', ') },
  );

/**
 * Every code a route may answer, from its declarations (run at registration). A route of the hub that lists no
 * `config.errors` (an empty list says "refuses nothing of its own") does not start, like one without `access`.
 */
function declareErrors(route: RouteOptions): void {
  const config = route.config ?? {};
  if (config.errors === undefined) {
    throw new Error(`${String(route.method)} ${route.url} declares no config.errors: list the codes it can refuse with (docs/modules.md)`);
  }
  const codes = [...EVERY_ROUTE, ...(config.access ? accessCodes(config.access) : []), ...config.errors, INTERNAL_ERROR];
  route.config = { ...config, declaredCodes: new Set(codes.map((c) => c.code)) };
  const schema = route.schema as { response?: Record<number, TSchema>; hide?: boolean } | undefined;
  if (!schema || schema.hide) return;
  const byStatus = new Map<number, string[]>();
  for (const { code, status } of codes) byStatus.set(status, [...new Set([...(byStatus.get(status) ?? []), code])]);
  const response: Record<number, TSchema> = { ...(schema.response ?? {}) };
  for (const [status, statusCodes] of byStatus) response[status] = ErrorBodyOf(statusCodes);
  route.schema = { ...schema, response };
}

export async function buildHttpApp({ db, logger, directory, modules, strictErrorCodes = false }: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as Fastify's base logger so the app is a plain FastifyInstance for callers (pino satisfies it).
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines log the raw URL, which can hold a card UID or number; we log the route pattern instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  app.setValidatorCompiler(typeboxValidatorCompiler);

  app.setErrorHandler((error, request, reply) => {
    let { status, error: body } = errorReply(error);
    const declared = request.routeOptions.config?.declaredCodes;
    if (status < 500 && declared && !declared.has(body.code)) {
      request.log.error({ code: body.code, route: request.routeOptions.url }, 'route answered an error code it does not declare (config.errors)');
      if (strictErrorCodes) ({ status, error: body } = errorReply(new Error(`undeclared error code ${body.code}`)));
    }
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code }, 'request refused');
    return reply.status(status).send({ error: body });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: kernelErrors.ROUTE_NOT_FOUND.code, message: `没有这个接口 / No such endpoint: ${request.method} ${request.url.split('?')[0]}` } }),
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
          'Members, cards, the double-entry ledger and the membership program. Amounts are whole fen (¥1 = 100) and whole ' +
          'points. Every route except /health needs an operator token: `Authorization: Bearer <token>`. An operator has ' +
          'one role (admin, manager, cashier, technician) and one scope (HQ, a region, a store) and reaches only the ' +
          'members and stores in that scope. Every error is `{ error: { code, message } }` with the message in Chinese ' +
          'and English; each route lists the codes it can answer, by status.',
      },
      components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer', description: 'Operator token (mko_…)' } } },
      security: [{ operatorToken: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addHook('onRoute', declareErrors);
  installAccess(app, directory, API_PREFIX);
  const declaredRoutes: DeclaredRoute[] = [];
  app.decorate('declaredRoutes', declaredRoutes);
  app.addHook('onRoute', (route) => {
    const { access, errors = [] } = route.config ?? {};
    if (!access) return;
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of [route.method].flat()) if (method !== 'HEAD') declaredRoutes.push({ method, url: route.url, access, errors, hidden });
  });

  await app.register(
    async (api) => {
      api.get(
        '/health',
        {
          config: { access: { public: 'load balancers and monitoring ask it; it tells nothing but liveness' }, errors: [kernelErrors.DATABASE_UNAVAILABLE] },
          schema: {
            summary: 'Liveness and database reachability (no token needed)',
            tags: ['ops'],
            security: [],
            response: { 200: Type.Object({ status: Type.Literal('ok'), database: Type.Union([Type.Literal('pglite'), Type.Literal('postgres')]) }) },
          },
        },
        async (request) => {
          try {
            await db.query('SELECT 1');
          } catch (error) {
            request.log.error({ err: error }, 'health check: database unreachable');
            throw kernelErrors.DATABASE_UNAVAILABLE({ zh: '中心无法连接数据库', en: 'The hub cannot reach its database' });
          }
          return { status: 'ok', database: db.backend };
        },
      );
      for (const module of modules) if (module.routes) await api.register(module.routes);
    },
    { prefix: API_PREFIX },
  );
  for (const module of modules) if (module.pages) await app.register(module.pages);
  return app;
}

