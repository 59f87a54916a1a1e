import './formats.ts';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

/** No device message is anywhere near this; anything larger is refused before JSON parsing. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  return checker as TypeCheck<T>;
}

/**
 * Control characters no text of a request or device message may hold: C0 controls but tab, line feed and carriage
 * return. PostgreSQL refuses NUL in text outright, so a name, reason or key carrying one was a 500 (issue 11); the
 * others have no place in names, codes or receipts either.
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
 * Validates an already-parsed value (a REST request's part or a device message); the reason names the first
 * offending field. Text with a control character is refused whatever the schema says.
 */
export function validate<T extends TSchema>(schema: T, value: unknown): Decoded<Static<T>> {
  const controlAt = controlCharacterAt(value);
  if (controlAt !== undefined) return { ok: false, reason: `${controlAt || '(root)'}: text must not contain control characters` };
  const checker = checkerFor(schema);
  if (checker.Check(value)) return { ok: true, value };
  const first = checker.Errors(value).First();
  const where = first?.path || '(root)';
  return { ok: false, reason: `${where}: ${first?.message ?? 'invalid'}` };
}

/** Parses and validates an MQTT payload. Never throws: bad input is a reason, not an exception. */
export function decodePayload<T extends TSchema>(schema: T, payload: Buffer | string): Decoded<Static<T>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, reason: `payload too large: ${size} bytes (max ${MAX_PAYLOAD_BYTES})` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not valid JSON' };
  }
  return validate(schema, parsed);
}

export function encodePayload(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Payloads already encoded one by one, gathered in order into `{"v":1,"<field>":[…]}` messages (TxAcks,
 * DeviceTransactions), each within MAX_PAYLOAD_BYTES and at most `maxItems` long: no item is encoded twice.
 */
export function envelopesWithinPayloadLimit(field: string, encoded: readonly string[], maxItems: number): string[] {
  const head = `{"v":1,"${field}":[`;
  const envelopeBytes = Buffer.byteLength(head) + 2;
  const envelopes: string[] = [];
  let items: string[] = [];
  let bytes = envelopeBytes;
  const close = () => envelopes.push(`${head}${items.join(',')}]}`);
  for (const item of encoded) {
    const size = Buffer.byteLength(item) + 1;
    if (items.length > 0 && (bytes + size > MAX_PAYLOAD_BYTES || items.length === maxItems)) {
      close();
      items = [];
      bytes = envelopeBytes;
    }
    items.push(item);
    bytes += size;
  }
  if (items.length > 0) close();
  return envelopes;
}
