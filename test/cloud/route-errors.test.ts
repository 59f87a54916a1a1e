import type { FastifyContextConfig } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssembledHub } from '../../cloud/hub.ts';
import type { AccessDirectory } from '../../cloud/kernel/access.ts';
import { API_PREFIX, buildHttpApp, type DeclaredRoute } from '../../cloud/kernel/http-app.ts';
import type { HubModule } from '../../cloud/kernel/module.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { useDatabases } from './support.ts';

/**
 * Every route declares the error codes it can refuse with (config.errors; the hub does not start otherwise),
 * and those are the ones its OpenAPI lists: every declared code is in the document under its status, beside
 * what the kernel adds (401, 403, the access sources' codes, validation).
 */

interface OpenApiResponse {
  content?: Record<string, { schema?: { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } } }>;
}
type OpenApiPaths = Record<string, Record<string, { responses?: Record<string, OpenApiResponse> }>>;

/** The codes the document lists for a route under a status. */
function documentedCodes(paths: OpenApiPaths, route: DeclaredRoute, status: number): string[] {
  const path = route.url.replace(/:(\w+)/g, '{$1}');
  const response = paths[path]?.[route.method.toLowerCase()]?.responses?.[String(status)];
  return response?.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? [];
}

describe('the OpenAPI document lists every error code a route declares', () => {
  const databases = useDatabases();
  let hub: AssembledHub;
  let paths: OpenApiPaths;
  const routes = () => hub.app.declaredRoutes;

  beforeAll(async () => {
    hub = await assembleTestHub(await databases.open('pglite'));
    const docs = await hub.app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    paths = docs.json().paths;
  });
  afterAll(() => hub?.app.close());

  it('every route that declares codes has each of them in the document, under its status', () => {
    const documented = routes().filter((route) => !route.hidden);
    expect(documented.length).toBeGreaterThanOrEqual(70);
    const missing = documented.flatMap((route) =>
      route.errors
        .filter(({ code, status }) => !documentedCodes(paths, route, status).includes(code))
        .map(({ code, status }) => `${route.method} ${route.url}: ${status} ${code}`),
    );
    expect(missing).toEqual([]);
  });

  it('documents what the kernel adds to a route (401, 403, its access sources, validation) beside its own codes', () => {
    const replace = routes().find((route) => route.method === 'POST' && route.url === `${API_PREFIX}/cards/:cardUid/replace`)!;
    expect(documentedCodes(paths, replace, 401)).toEqual(['UNAUTHENTICATED']);
    expect(documentedCodes(paths, replace, 403)).toEqual(['FORBIDDEN']);
    expect(documentedCodes(paths, replace, 404).sort()).toEqual(['CARD_NOT_FOUND', 'STORE_NOT_FOUND']);
    expect(documentedCodes(paths, replace, 400)).toEqual(expect.arrayContaining(['VALIDATION_FAILED', 'INVALID_CARD_UID', 'INVALID_CARD_NUMBER', 'INVALID_INPUT']));
    expect(documentedCodes(paths, replace, 409).sort()).toEqual(['CARD_ALREADY_BOUND', 'CARD_INVALID_STATE', 'IDEMPOTENCY_CONFLICT', 'INSUFFICIENT_BALANCE']);
  });

  it.each<[string, FastifyContextConfig, string]>([
    ['no error codes', { access: { public: 'a test route' } }, 'GET /api/v1/careless declares no config.errors'],
    ['no access', { errors: [] }, 'route GET /api/v1/careless declares no access'],
  ])('refuses to build the HTTP app with a route that declares %s', async (_what, config, refusal) => {
    const careless: HubModule = { name: 'careless', tables: [], routes: async (api) => void api.get('/careless', { config }, async () => ({})) };
    const nobody: AccessDirectory = {
      operatorByToken: async () => undefined,
      regionOfStore: async () => 'east',
      homeOfMember: async () => ({ storeId: null, regionId: null }),
    };
    const { db, logger } = hub.services;
    await expect(buildHttpApp({ db, logger, directory: nobody, modules: [careless] })).rejects.toThrow(refusal);
  });
});
