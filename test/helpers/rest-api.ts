import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import type { HubServices } from '../../cloud/kernel/module.ts';
import { assembleTestHub, type TestHubOptions } from './hub-app.ts';
import { bearer, seedOrg, type SeededOrg } from './org.ts';

export type RestMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RestApi {
  /** The hub database under the app (closed by whoever opened it). */
  readonly db: Database;
  /** The test chain seeded into `db` (see seedOrg). */
  readonly org: SeededOrg;
  readonly app: FastifyInstance;
  /** The hub's shared services under the app (its ledger, rules, outbox). */
  readonly services: HubServices;
  /** `method /api/v1{url}`, signed in with `token` (none: anonymous), with `payload` as the body when given. */
  send(method: RestMethod, url: string, token?: string, payload?: object): Promise<LightMyRequestResponse>;
}

/** The test hub's options (hub-app.ts); the logger defaults to a silent one. */
export type RestApiOptions = TestHubOptions;

/**
 * The hub's REST app for a describe block: before its tests, a database from `open` with the test chain
 * seeded (seedOrg) and the app built on it; after them, the app closed.
 *
 *   const rest = useRestApi(() => databases.open(backend));
 *   const { send } = rest;
 *   await send('POST', '/members', rest.org.tokens.xuhui.manager, { name: 'Li Lei' });
 */
export function useRestApi(open: () => Promise<Database>, options: RestApiOptions = {}): RestApi {
  let state: { db: Database; org: SeededOrg; app: FastifyInstance; services: HubServices } | undefined;
  beforeAll(async () => {
    const db = await open();
    const org = await seedOrg(db);
    const { app, services } = await assembleTestHub(db, options);
    state = { db, org, app, services };
  });
  afterAll(() => state?.app.close());

  const ready = () => {
    if (!state) throw new Error('useRestApi: the app is only there inside tests and later hooks');
    return state;
  };
  return {
    get db() {
      return ready().db;
    },
    get org() {
      return ready().org;
    },
    get app() {
      return ready().app;
    },
    get services() {
      return ready().services;
    },
    send: (method, url, token, payload) =>
      ready().app.inject({ method, url: `/api/v1${url}`, ...(payload ? { payload } : {}), headers: token ? bearer(token) : {} }),
  };
}
