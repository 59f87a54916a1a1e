import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../shared/logger.ts';

/** A pino logger whose output lines are kept in `lines` (raw JSON text), for asserting what was and was not logged. */
export function capturedLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
