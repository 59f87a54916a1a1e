import Fastify, { type FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssembledHub } from '../../cloud/hub.ts';
import type { DeclaredCode } from '../../cloud/kernel/access.ts';
import { API_PREFIX } from '../../cloud/kernel/http-app.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { useDatabases } from './support.ts';

/**
 * The error codes a route declares (config.errors) are the ones its OpenAPI lists: every declared code is in the
 * document under its status. The modules named below declare them on every route; the others are checked on
 * the routes that declare them so far.
 */

const DECLARING_EVERY_ROUTE = ['org', 'cards', 'coupons', 'campaigns', 'sync', 'fleet', 'devices'];

interface RouteDeclaration {
  readonly module: string;
  readonly method: string;
  readonly url: string;
  readonly errors: readonly DeclaredCode[] | undefined;
  /** Left out of the OpenAPI document (a page). */
  readonly hidden: boolean;
}

interface OpenApiResponse {
  content?: Record<string, { schema?: { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } } }>;
}
type OpenApiPaths = Record<string, Record<string, { responses?: Record<string, OpenApiResponse> }>>;

/**
 * Every route of every module with what it declares: each module's plugins registered again on a bare app that
 * only records them (nothing is validated, served or started there).
 */
async function declarationsOf(hub: AssembledHub): Promise<RouteDeclaration[]> {
  const found: RouteDeclaration[] = [];
  const recorder = Fastify({ logger: false });
  recorder.setValidatorCompiler(() => () => true);
  recorder.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const record = (module: string, plugin: FastifyPluginAsync, prefix: string) =>
    recorder.register(
      async (scope) => {
        scope.addHook('onRoute', (route) => {
          const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
          for (const method of [route.method].flat()) {
            if (method !== 'HEAD') found.push({ module, method, url: route.url, errors: route.config?.errors, hidden });
          }
        });
        await scope.register(plugin);
      },
      { prefix },
    );
  for (const module of hub.modules) {
    if (module.routes) await record(module.name, module.routes, API_PREFIX);
    if (module.pages) await record(module.name, module.pages, '');
  }
  await recorder.close();
  return found;
}

/** The codes the document lists for a route under a status. */
function documentedCodes(paths: OpenApiPaths, route: RouteDeclaration, status: number): string[] {
  const path = route.url.replace(/:(\w+)/g, '{$1}');
  const response = paths[path]?.[route.method.toLowerCase()]?.responses?.[String(status)];
  return response?.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? [];
}

describe('the OpenAPI document lists every error code a route declares', () => {
  const databases = useDatabases();
  let hub: AssembledHub;
  let routes: RouteDeclaration[];
  let paths: OpenApiPaths;

  beforeAll(async () => {
    hub = await assembleTestHub(await databases.open('pglite'));
    routes = await declarationsOf(hub);
    const docs = await hub.app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    paths = docs.json().paths;
  });
  afterAll(() => hub?.app.close());

  it('finds the routes of every module', () => {
    const modules = new Set(routes.map((route) => route.module));
    for (const name of DECLARING_EVERY_ROUTE.filter((name) => hub.modules.some((module) => module.name === name && (module.routes || module.pages)))) {
      expect(modules, name).toContain(name);
    }
    expect(routes.find((route) => route.url === `${API_PREFIX}/cards/:cardUid/replace`)).toBeDefined();
  });

  it(`every route of ${DECLARING_EVERY_ROUTE.join(', ')} declares the codes it can answer`, () => {
    const undeclared = routes.filter((route) => DECLARING_EVERY_ROUTE.includes(route.module) && route.errors === undefined);
    expect(undeclared.map((route) => `${route.module}: ${route.method} ${route.url}`)).toEqual([]);
  });

  it('every route that declares codes has each of them in the document, under its status', () => {
    const declaring = routes.filter((route) => route.errors !== undefined && !route.hidden);
    expect(declaring.length).toBeGreaterThanOrEqual(30);
    const missing = declaring.flatMap((route) =>
      route.errors!
        .filter(({ code, status }) => !documentedCodes(paths, route, status).includes(code))
        .map(({ code, status }) => `${route.method} ${route.url}: ${status} ${code}`),
    );
    expect(missing).toEqual([]);
  });

  it('documents what the kernel adds to a declaring route (401, 403, its access sources, validation) beside its own codes', () => {
    const replace = routes.find((route) => route.method === 'POST' && route.url === `${API_PREFIX}/cards/:cardUid/replace`)!;
    expect(documentedCodes(paths, replace, 401)).toEqual(['UNAUTHENTICATED']);
    expect(documentedCodes(paths, replace, 403)).toEqual(['FORBIDDEN']);
    expect(documentedCodes(paths, replace, 404).sort()).toEqual(['CARD_NOT_FOUND', 'STORE_NOT_FOUND']);
    expect(documentedCodes(paths, replace, 400)).toEqual(expect.arrayContaining(['VALIDATION_FAILED', 'INVALID_CARD_UID', 'INVALID_CARD_NUMBER', 'INVALID_INPUT']));
    expect(documentedCodes(paths, replace, 409).sort()).toEqual(['CARD_ALREADY_BOUND', 'CARD_INVALID_STATE', 'IDEMPOTENCY_CONFLICT', 'INSUFFICIENT_BALANCE']);
  });
});
