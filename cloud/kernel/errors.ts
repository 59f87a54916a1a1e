/**
 * Refusals. Every module owns its error codes (`defineErrors` in its `errors.ts`) and throws them as HubErrors:
 * a stable code a program can branch on, the HTTP status, and one message in Chinese and English that a store
 * clerk or a member can read ("余额不足 / Not enough stored value…"). A HubError with a status below 500 always
 * means nothing was changed; the REST API answers it as `{ error: { code, message } }`, the device link as the
 * ok/error envelope. Anything else thrown is a fault (database down, bug): 500, and the device may retry.
 */

/** A sentence in both languages of the program; shown as "中文 / English". */
export interface Bilingual {
  readonly zh: string;
  readonly en: string;
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 503 | 504;

export class HubError extends Error {
  constructor(
    readonly code: string,
    readonly status: ErrorStatus,
    message: string,
    /** The module that owns the code. */
    readonly module: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** One error code of one module: call it with the message to get the error to throw. */
export interface ErrorCode<C extends string = string> {
  readonly code: C;
  readonly status: ErrorStatus;
  readonly module: string;
  (text: Bilingual): HubError;
}

export const bilingual = ({ zh, en }: Bilingual): string => `${zh} / ${en}`;

/** A message the shared rules already wrote as "中文 / English", back into its two languages. */
export function splitBilingual(text: string): Bilingual {
  const at = text.indexOf(' / ');
  return at < 0 ? { zh: text, en: text } : { zh: text.slice(0, at), en: text.slice(at + 3).replace(/\.$/, '') };
}

/**
 * A module's error codes, by code: `const catalogErrors = defineErrors('catalog', { OUT_OF_STOCK: 409 })`, then
 * `throw catalogErrors.OUT_OF_STOCK({ zh: '已兑完', en: 'Out of stock' })`, and list the codes a route can
 * answer in its `config.errors` (they become its OpenAPI error responses).
 */
export function defineErrors<const Codes extends Record<string, ErrorStatus>>(
  module: string,
  codes: Codes,
): { readonly [C in keyof Codes & string]: ErrorCode<C> } {
  const catalog: Record<string, ErrorCode> = {};
  for (const [code, status] of Object.entries(codes)) {
    const make = (text: Bilingual) => new HubError(code, status, bilingual(text), module);
    catalog[code] = Object.assign(make, { code, status, module });
  }
  return catalog as { readonly [C in keyof Codes & string]: ErrorCode<C> };
}

/** Every module's codes; the hub checks at start that no code is defined twice (one meaning per code). */
export type ErrorCatalog = Readonly<Record<string, ErrorCode>>;

export function assertUniqueCodes(catalogs: readonly ErrorCatalog[]): void {
  const seen = new Map<string, ErrorCode>();
  for (const catalog of catalogs) {
    for (const entry of Object.values(catalog)) {
      const earlier = seen.get(entry.code);
      if (earlier && earlier !== entry) {
        throw new Error(`error code ${entry.code} is defined by both ${earlier.module} and ${entry.module}; a code has one owner`);
      }
      seen.set(entry.code, entry);
    }
  }
}

/**
 * The kernel's own codes: what the HTTP layer answers before or around any module (authentication, access,
 * malformed requests) and the plain refusals every module shares (bad input, a conflict with current state).
 */
export const kernelErrors = defineErrors('kernel', {
  /** No valid operator token. */
  UNAUTHENTICATED: 401,
  /** A valid operator whose role or scope does not allow this. */
  FORBIDDEN: 403,
  /** The request does not match its route's schema. */
  VALIDATION_FAILED: 400,
  /** Refused by the framework before any route code: malformed JSON, wrong content type, body too large. */
  BAD_REQUEST: 400,
  /** A value the schema admits but the operation does not (a rule, a range that depends on other fields). */
  INVALID_INPUT: 400,
  /** A rule set (or a part of one) that the rules engine refuses: every problem is listed. */
  RULES_INVALID: 400,
  /** The request is understood, but the current state refuses it (and would refuse it again unchanged). */
  CONFLICT: 409,
  /** The idempotency key was used before for a different request: nothing was done. */
  IDEMPOTENCY_CONFLICT: 409,
  /** The thing the request names does not exist (modules with a more telling code use their own). */
  NOT_FOUND: 404,
  /** No such endpoint. */
  ROUTE_NOT_FOUND: 404,
  /** The hub cannot reach its database (the health check says so; anything else answers 500). */
  DATABASE_UNAVAILABLE: 503,
});

/** A refusal (a HubError below 500): final, the same request gets the same answer. Anything else may pass on retry. */
export function refusalOf(error: unknown): { code: string; message: string } | undefined {
  return error instanceof HubError && error.status < 500 ? { code: error.code, message: error.message } : undefined;
}

export const invalidInput = (text: Bilingual): HubError => kernelErrors.INVALID_INPUT(text);
