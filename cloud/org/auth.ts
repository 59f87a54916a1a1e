import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { operatorByToken, principalOfOperator } from './operators.ts';
import { requireRole } from './access.ts';
import type { OperatorPrincipal, Role } from './principal.ts';

/** Routes under the API prefix that answer without a token: liveness only. /docs and /dashboard lie outside the prefix. */
const PUBLIC_API_ROUTES = new Set(['/health']);

/**
 * Kiosk fleet routes (cloud/fleet, cloud/sync: fleet view, device commands and configuration) are for the
 * people who run the kiosks. They are guarded here, by path, so the modules that define them stay free of
 * operator concerns. Kiosks are not yet tied to stores, so these are not narrowed by scope.
 */
const DEVICE_ROUTE_PREFIXES = ['/fleet', '/devices/'];
export const DEVICE_ROLES: readonly Role[] = ['admin', 'technician'];

function unauthenticated(message: string): LedgerError {
  return new LedgerError('UNAUTHENTICATED', message);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <operator token>".');
  return match[1];
}

/** Whether a request needs an operator: every route under `apiPrefix` except the public ones, and any unknown path there. */
function needsOperator(request: FastifyRequest, apiPrefix: string): boolean {
  const route = request.routeOptions.url;
  const path = route ?? request.url.split('?')[0]!;
  if (!path.startsWith(`${apiPrefix}/`)) return false;
  return route === undefined || !PUBLIC_API_ROUTES.has(route.slice(apiPrefix.length));
}

/**
 * Operator authentication for the REST API: a valid, active operator's bearer token puts the operator on
 * `request.operator` (and its id on the request's log lines); anything else is 401 UNAUTHENTICATED before
 * validation or any handler runs. The token itself is never logged (the logger also redacts the header).
 * Install on the root app before routes are registered, so routes added by other modules are covered too.
 */
export function installOperatorAuth(app: FastifyInstance, db: Queryable, apiPrefix: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!needsOperator(request, apiPrefix)) return;
    try {
      request.operator = await authenticate(db, request);
    } catch (error) {
      reply.header('www-authenticate', 'Bearer realm="member-kiosk hub"');
      throw error;
    }
    request.log = request.log.child({ operatorId: request.operator.operatorId });
    const path = request.routeOptions.url?.slice(apiPrefix.length) ?? '';
    if (DEVICE_ROUTE_PREFIXES.some((prefix) => path.startsWith(prefix))) requireRole(request, DEVICE_ROLES);
  });
}

async function authenticate(db: Queryable, request: FastifyRequest): Promise<OperatorPrincipal> {
  const token = bearerTokenOf(request);
  if (token === undefined) throw unauthenticated('Sign in first: send your operator token as "Authorization: Bearer <token>".');
  const operator = await operatorByToken(db, token);
  if (!operator) throw unauthenticated('This operator token is not recognised. Ask an admin for a new one.');
  if (!operator.active) throw unauthenticated('This operator account has been deactivated. Ask an admin to restore access.');
  return principalOfOperator(operator);
}
