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
 * Fastify validator compiler using TypeBox — the same checker the MQTT contract uses. Unlike Fastify's default
 * Ajv setup it never coerces a JSON body ("10" stays a string and is refused) and refuses unknown fields
 * instead of silently dropping them (nor text with a control character: validate refuses it).
 */
export function typeboxValidatorCompiler({ schema, httpPart }: { schema: TSchema; httpPart?: string }) {
  return (data: unknown) => {
    const value = httpPart === 'body' ? data : withIntegers(schema, data);
    const result = validate(schema, value);
    return result.ok ? { value } : { error: new RequestValidationError(`Invalid ${httpPart ?? 'request'}: ${result.reason}`) };
  };
}
