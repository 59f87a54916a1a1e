import type { TSchema } from '@sinclair/typebox';
import { validate } from '../../shared/contract/decode.ts';

/** A request that does not match its route's schema; the message names the part and the field. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  constructor(message: string) {
    super(message);
    this.name = 'RequestValidationError';
  }
}

/**
 * Path and query values are always text: a whole-number string becomes a number where the schema wants an
 * integer. Anything else ("1.5", "ten") is left alone so the schema rejects it instead of rounding it.
 */
function withIntegers(schema: TSchema, data: unknown): unknown {
  if (typeof data !== 'object' || data === null || !schema.properties) return data;
  const converted: Record<string, unknown> = { ...data };
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const value = converted[key];
    if (property.type === 'integer' && typeof value === 'string' && /^-?\d{1,15}$/.test(value)) converted[key] = Number(value);
  }
  return converted;
}

/**
 * Control characters no text of the API may hold: C0 controls but tab, line feed and carriage return. PostgreSQL
 * refuses NUL in text outright, so a name, reason or key carrying one was a 500 (issue 11); the others have no
 * place in names, codes or receipts either.
 */
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** Where in `value` a string holds a control character (a JSON pointer, '' for the value itself), if anywhere. */
function controlCharacterAt(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return CONTROL_CHARACTER.test(value) ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = controlCharacterAt(item, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Fastify validator compiler using TypeBox — the same checker the MQTT contract uses. Unlike Fastify's default
 * Ajv setup it never coerces a JSON body ("10" stays a string and is refused) and refuses unknown fields
 * instead of silently dropping them. Text with a control character is refused before the schema looks at it.
 */
export function typeboxValidatorCompiler({ schema, httpPart }: { schema: TSchema; httpPart?: string }) {
  return (data: unknown) => {
    const part = httpPart ?? 'request';
    const controlAt = controlCharacterAt(data);
    if (controlAt !== undefined) return { error: new RequestValidationError(`Invalid ${part}: ${controlAt || '(root)'}: text must not contain control characters`) };
    const value = httpPart === 'body' ? data : withIntegers(schema, data);
    const result = validate(schema, value);
    return result.ok ? { value } : { error: new RequestValidationError(`Invalid ${part}: ${result.reason}`) };
  };
}
