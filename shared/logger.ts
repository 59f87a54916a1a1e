import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Structured logs for hub and kiosk. Secrets and personal data never reach a log line: these paths are
 * censored wherever they appear, and code logs masked card numbers (maskCardUid) instead of raw ones.
 */
const REDACTED_PATHS = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret',
  'phone', '*.phone', 'cardUid', '*.cardUid', 'uid', '*.uid',
  'req.headers.authorization',
];

/**
 * What a logged error keeps: its kind, message, code and stack. Database drivers hang the failed statement's
 * parameters on their errors (PGlite: `params`, `query`), and PostgreSQL's `detail` quotes the values of a violated
 * key — a phone number, a card UID, a token hash. None of that is needed to find the bug, so none of it is logged.
 */
function errorForLog(error: unknown): unknown {
  // Most lines log `err: error.message`, a string already: it stays as it is.
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}), stack: error.stack };
}

export function createLogger(name: string, options: LoggerOptions = {}, destination?: NodeJS.WritableStream): Logger {
  const settings: LoggerOptions = {
    name,
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: errorForLog, error: errorForLog },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
