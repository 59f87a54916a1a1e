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

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino({
    name,
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...options,
  });
}
