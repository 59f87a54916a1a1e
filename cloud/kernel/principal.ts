/**
 * Who is calling the hub's REST API: an operator account with one role, scoped to headquarters, one region
 * or one store. The access hooks (kernel/access.ts) put it on every authenticated request.
 */
export const ROLES = ['admin', 'manager', 'cashier', 'technician'] as const;
export type Role = (typeof ROLES)[number];

export const SCOPE_LEVELS = ['hq', 'region', 'store'] as const;
export type ScopeLevel = (typeof SCOPE_LEVELS)[number];

export interface OperatorScope {
  level: ScopeLevel;
  /** 'hq' for headquarters, else the region or store id. */
  id: string;
}

export interface OperatorPrincipal {
  operatorId: string;
  name: string;
  role: Role;
  scope: OperatorScope;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin on authenticated routes; absent on public ones (/health, /docs). */
    operator?: OperatorPrincipal;
  }
}
