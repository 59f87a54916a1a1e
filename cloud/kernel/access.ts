/**
 * Who may call a route, declared with the route and enforced in one place.
 *
 * Every route states its access in its config: `config: { access: { roles, scope } }` (or `{ public: why }`).
 * The hooks installed here enforce it before any handler runs:
 *  1. onRequest — a non-public route needs a valid operator's bearer token: else 401 UNAUTHENTICATED;
 *  2. preValidation — the operator's role and level must be admitted (403 FORBIDDEN), then every scope source
 *     is resolved from the request (the member in the path, the store in the body, the checkout named in the
 *     path…) and must lie inside the operator's scope: HQ reaches every store, a region its own stores, a store
 *     only itself (404 when the thing named does not exist, 403 when it is outside the scope).
 * A route registered without a declaration stops the hub from starting (`assertDeclared`). Scope sources read
 * the raw request (before schema validation) and skip a value their route's schema refuses: validation answers
 * 400 for it next. A malformed member id is a bad request, not an unknown member.
 */
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { validate } from '../../shared/contract/decode.ts';
import type { Actor } from './actor.ts';
import { kernelErrors, type ErrorStatus, type HubError } from './errors.ts';
import type { OperatorPrincipal, OperatorScope, Role, ScopeLevel } from './principal.ts';

/** What a scope source points at; each must lie inside the operator's scope. */
export type ScopeTarget =
  | { readonly member: string }
  | { readonly store: string }
  /** An operator scope being created or changed (a region, a store, HQ), e.g. a new operator's. */
  | { readonly scope: OperatorScope };

export type RequestPart = 'params' | 'body' | 'query';

/** A value in the request that names what the request reaches. */
export interface ScopeSource {
  readonly part: RequestPart;
  readonly field: string;
  /** What the value names, for people (OpenAPI) and for the route walk test, which fills it. */
  readonly names: string;
  /** Codes its resolution may answer besides 403 (e.g. 404 MEMBER_NOT_FOUND). */
  readonly errors: readonly DeclaredCode[];
  /** Sets request.actingStoreId (the store the request acts at). */
  readonly acting?: boolean;
  /** What the value reaches; undefined when it reaches nothing that needs checking. */
  resolve(value: unknown, request: FastifyRequest, directory: AccessDirectory): Promise<readonly ScopeTarget[]>;
}

export interface DeclaredCode {
  readonly code: string;
  readonly status: ErrorStatus | 500;
}

/** No scope to check, and why: the route reaches only the caller's own things, or nothing store-bound. */
export interface NoScope {
  readonly none: string;
}

export interface PublicAccess {
  /** Why anyone may call it without a token. */
  readonly public: string;
}

export interface OperatorAccess {
  readonly roles: readonly Role[];
  /** Only operators at these levels (e.g. ['hq'] for chain-wide changes); default every level. */
  readonly levels?: readonly ScopeLevel[];
  readonly scope: readonly ScopeSource[] | NoScope;
}

export type RouteAccess = PublicAccess | OperatorAccess;

/** What the access hooks need to know about operators, stores and members; the hub wires in org and ledger. */
export interface AccessDirectory {
  /** The operator holding a token; 'inactive' for a deactivated one. */
  operatorByToken(token: string): Promise<OperatorPrincipal | 'inactive' | undefined>;
  /** The region of a store; throws the owner's STORE_NOT_FOUND when there is no such store. */
  regionOfStore(storeId: string): Promise<string>;
  /** The member's home store and its region (null: none); throws the owner's MEMBER_NOT_FOUND when there is no such member. */
  homeOfMember(memberId: string): Promise<{ storeId: string | null; regionId: string | null }>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The signed-in operator; set on every non-public route before any handler runs. */
    operator?: OperatorPrincipal;
    /** The store the request acts at, when its access has an acting-store source and one applies. */
    actingStoreId?: string;
  }
}

export const ALL_ROLES: readonly Role[] = ['admin', 'manager', 'cashier', 'technician'];
const API_DOCS_PREFIX = '/docs';

const MEMBER_NOT_FOUND: DeclaredCode = { code: 'MEMBER_NOT_FOUND', status: 404 };
const STORE_NOT_FOUND: DeclaredCode = { code: 'STORE_NOT_FOUND', status: 404 };

const valueAt = (request: FastifyRequest, part: RequestPart, field: string): unknown => {
  const container = request[part] as Record<string, unknown> | undefined | null;
  return typeof container === 'object' && container !== null ? container[field] : undefined;
};

/**
 * Whether the route's own schema admits the value (absent field schema: yes). A value it refuses reaches
 * nothing: validation answers 400 for it next, as it would without the access check.
 */
function admittedBySchema(request: FastifyRequest, part: RequestPart, field: string, value: unknown): boolean {
  const schema = (request.routeOptions.schema as Record<string, TSchema | undefined> | undefined)?.[part === 'query' ? 'querystring' : part];
  const fieldSchema = (schema?.properties as Record<string, TSchema> | undefined)?.[field];
  return fieldSchema === undefined || value === undefined || validate(fieldSchema, value).ok;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** Scope sources for route declarations. */
export const scope = {
  none: (why: string): NoScope => ({ none: why }),

  /** The member named at `field` (default the path's memberId): their home store must be in scope. */
  member: (part: RequestPart = 'params', field = 'memberId'): ScopeSource => ({
    part,
    field,
    names: 'member',
    errors: [MEMBER_NOT_FOUND],
    async resolve(value) {
      const memberId = text(value);
      return memberId === undefined ? [] : [{ member: memberId }];
    },
  }),

  /** The store named at `field` when the request names one (default the body's storeId). */
  store: (part: RequestPart = 'body', field = 'storeId'): ScopeSource => ({
    part,
    field,
    names: 'store',
    errors: [STORE_NOT_FOUND],
    async resolve(value) {
      const storeId = text(value);
      return storeId === undefined ? [] : [{ store: storeId }];
    },
  }),

  /**
   * The store the request acts at: the one named at `field`, else the operator's own store. It must be in scope
   * and is put on request.actingStoreId. With `required`, an operator above store level must name one.
   */
  actingStore: ({ field = 'storeId', required = false }: { field?: string; required?: boolean } = {}): ScopeSource => ({
    part: 'body',
    field,
    names: 'store',
    errors: required ? [STORE_NOT_FOUND, { code: 'INVALID_INPUT', status: 400 }] : [STORE_NOT_FOUND],
    acting: true,
    async resolve(value, request) {
      const { scope: own } = operatorOf(request);
      const storeId = text(value) ?? (own.level === 'store' ? own.id : undefined);
      if (storeId === undefined) {
        if (!required) return [];
        throw kernelErrors.INVALID_INPUT({
          zh: `请指定门店（${field}）：您不是在某一门店登录的`,
          en: `Name the store (${field}): you are not signed in at a store`,
        });
      }
      request.actingStoreId = storeId;
      return [{ store: storeId }];
    },
  }),

  /**
   * Something the owning module looks up (a checkout, a voucher, a transaction…) and turns into the member,
   * store or scope it belongs to. `lookup` gets the raw value; it throws the owner's not-found error.
   */
  of: (
    part: RequestPart,
    field: string,
    names: string,
    errors: readonly DeclaredCode[],
    lookup: (value: unknown, request: FastifyRequest) => Promise<ScopeTarget | readonly ScopeTarget[] | undefined>,
  ): ScopeSource => ({
    part,
    field,
    names,
    errors,
    async resolve(value, request) {
      const found = await lookup(value, request);
      return found === undefined ? [] : Array.isArray(found) ? found : [found as ScopeTarget];
    },
  }),
};

/** The signed-in operator of a non-public route (set by the onRequest hook). */
export function operatorOf(request: FastifyRequest): OperatorPrincipal {
  if (!request.operator) throw unauthenticated('Sign in first: send your operator token as "Authorization: Bearer <token>".', '请先登录：以 "Authorization: Bearer <令牌>" 发送操作员令牌');
  return request.operator;
}

/** Every change made through the REST API is attributed to the operator who made it. */
export function operatorActor(request: FastifyRequest): Actor {
  return { type: 'operator', id: operatorOf(request).operatorId };
}

/** Whether a scope reaches a store (pure). */
export function scopeCoversStore(scopeOf: OperatorScope, store: { storeId: string; regionId: string }): boolean {
  if (scopeOf.level === 'hq') return true;
  return scopeOf.level === 'region' ? store.regionId === scopeOf.id : store.storeId === scopeOf.id;
}

/** Whether `outer` reaches everything `inner` does; `innerRegionId` is the region of a store scope. */
export function scopeCoversScope(outer: OperatorScope, inner: OperatorScope, innerRegionId?: string): boolean {
  if (outer.level === 'hq') return true;
  if (inner.level === 'hq') return false;
  if (outer.level === 'region') return inner.level === 'region' ? inner.id === outer.id : innerRegionId === outer.id;
  return inner.level === 'store' && inner.id === outer.id;
}

export function describeScope(scopeOf: OperatorScope): { zh: string; en: string } {
  if (scopeOf.level === 'hq') return { zh: '总部', en: 'headquarters' };
  return scopeOf.level === 'region' ? { zh: `区域「${scopeOf.id}」`, en: `region "${scopeOf.id}"` } : { zh: `门店「${scopeOf.id}」`, en: `store "${scopeOf.id}"` };
}

const LEVEL_NAMES: Record<ScopeLevel, { zh: string; en: string }> = {
  hq: { zh: '总部', en: 'headquarters' },
  region: { zh: '区域', en: 'region' },
  store: { zh: '门店', en: 'store' },
};

export function forbidden(zh: string, en: string): HubError {
  return kernelErrors.FORBIDDEN({ zh, en });
}

function unauthenticated(en: string, zh: string): HubError {
  return kernelErrors.UNAUTHENTICATED({ zh, en });
}

const isPublic = (access: RouteAccess): access is PublicAccess => 'public' in access;

/** The codes a declaration adds to its route: 401 and 403 for operator routes, and what its scope sources answer. */
export function accessCodes(access: RouteAccess): DeclaredCode[] {
  if (isPublic(access)) return [];
  const codes: DeclaredCode[] = [kernelErrors.UNAUTHENTICATED, kernelErrors.FORBIDDEN];
  if (Array.isArray(access.scope)) for (const source of access.scope as readonly ScopeSource[]) codes.push(...source.errors);
  return codes;
}

/** Refuses to register a route that states no access: a route nobody thought about must not start. */
export function assertDeclared(route: RouteOptions): void {
  if (route.url.startsWith(API_DOCS_PREFIX)) return;
  const access = route.config?.access;
  if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access): say who may call it`);
  if (isPublic(access)) return;
  if (access.roles.length === 0) throw new Error(`route ${String(route.method)} ${route.url} admits no role`);
  if (!Array.isArray(access.scope) && !(access.scope as NoScope).none) {
    throw new Error(`route ${String(route.method)} ${route.url} must name its scope sources, or scope.none(why)`);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <operator token>".', 'Authorization 请求头须为 "Bearer <操作员令牌>"');
  return match[1];
}

async function authenticate(directory: AccessDirectory, request: FastifyRequest): Promise<OperatorPrincipal> {
  const token = bearerTokenOf(request);
  if (token === undefined) throw unauthenticated('Sign in first: send your operator token as "Authorization: Bearer <token>".', '请先登录：以 "Authorization: Bearer <令牌>" 发送操作员令牌');
  const operator = await directory.operatorByToken(token);
  if (operator === undefined) throw unauthenticated('This operator token is not recognised. Ask an admin for a new one.', '无法识别该操作员令牌，请向管理员申请新令牌');
  if (operator === 'inactive') throw unauthenticated('This operator account has been deactivated. Ask an admin to restore access.', '该操作员账号已停用，请联系管理员恢复');
  return operator;
}

async function assertTargetInScope(directory: AccessDirectory, operator: OperatorPrincipal, target: ScopeTarget): Promise<void> {
  const own = operator.scope;
  const outside = describeScope(own);
  if ('store' in target) {
    const regionId = await directory.regionOfStore(target.store);
    if (!scopeCoversStore(own, { storeId: target.store, regionId })) {
      throw forbidden(`门店「${target.store}」不在您的范围（${outside.zh}）内`, `Store "${target.store}" is outside your scope (${outside.en}).`);
    }
    return;
  }
  if ('member' in target) {
    const home = await directory.homeOfMember(target.member);
    if (own.level === 'hq') return;
    if (home.storeId === null) throw forbidden('该会员尚无所属门店，只有总部可以查看', 'This member has no home store yet; only headquarters can reach them.');
    if (!scopeCoversStore(own, { storeId: home.storeId, regionId: home.regionId! })) {
      throw forbidden(`该会员属于您范围（${outside.zh}）以外的门店`, `This member belongs to a store outside your scope (${outside.en}).`);
    }
    return;
  }
  const wanted = target.scope;
  if (wanted.level === 'store') {
    await assertTargetInScope(directory, operator, { store: wanted.id });
    return;
  }
  if (!scopeCoversScope(own, wanted)) {
    const named = describeScope(wanted);
    throw forbidden(`${named.zh}不在您的范围（${outside.zh}）内`, `${named.en[0]!.toUpperCase()}${named.en.slice(1)} is outside your scope (${outside.en}).`);
  }
}

function assertRoleAndLevel(operator: OperatorPrincipal, access: OperatorAccess): void {
  if (!access.roles.includes(operator.role)) {
    throw forbidden(`此操作需要 ${access.roles.join(' 或 ')} 角色；您的角色是 ${operator.role}`, `This needs the role ${access.roles.join(' or ')}; you are signed in as ${operator.role}.`);
  }
  if (access.levels && !access.levels.includes(operator.scope.level)) {
    const levels = access.levels.map((level) => LEVEL_NAMES[level]);
    throw forbidden(
      `此操作仅限${levels.map((l) => l.zh).join('或')}的操作员`,
      `Only ${levels.map((l) => l.en).join(' or ')} operators may do this; you are signed in at ${LEVEL_NAMES[operator.scope.level].en} level.`,
    );
  }
}

/**
 * Installs the access hooks on the root app, before any module registers routes (hooks reach the routes of
 * every plugin registered after them). `apiPrefix`: requests to unknown paths under it are refused with 401
 * before the 404, so the API does not tell strangers which endpoints exist.
 */
export function installAccess(app: FastifyInstance, directory: AccessDirectory, apiPrefix: string): void {
  app.addHook('onRoute', assertDeclared);

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config?.access;
    const unknownApiPath = access === undefined && request.url.startsWith(`${apiPrefix}/`);
    if (!unknownApiPath && (access === undefined || isPublic(access))) return;
    try {
      request.operator = await authenticate(directory, request);
    } catch (error) {
      reply.header('www-authenticate', 'Bearer realm="member-kiosk hub"');
      throw error;
    }
    request.log = request.log.child({ operatorId: request.operator.operatorId });
  });

  app.addHook('preValidation', async (request) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || isPublic(access)) return;
    const operator = operatorOf(request);
    assertRoleAndLevel(operator, access);
    if (!Array.isArray(access.scope)) return;
    for (const source of access.scope as readonly ScopeSource[]) {
      const value = valueAt(request, source.part, source.field);
      if (!admittedBySchema(request, source.part, source.field, value)) continue;
      const targets = await source.resolve(value, request, directory);
      for (const target of targets) await assertTargetInScope(directory, operator, target);
    }
  });
}
