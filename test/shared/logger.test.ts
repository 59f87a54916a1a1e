import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';

/** Lines the hub's own logger writes, with its redaction and serializers (createLogger), at every level. */
function logged(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('test-logger', { level: 'trace' }, sink) };
}

describe('createLogger', () => {
  it('logs an error by its kind, message, code and stack — never the parameters or key values a driver hangs on it', () => {
    const { lines, logger } = logged();
    const failure = Object.assign(new Error('duplicate key value violates unique constraint "members_phone_key"'), {
      code: '23505',
      detail: 'Key (phone)=(13800138000) already exists.',
      query: 'INSERT INTO members (id, name, phone) VALUES ($1, $2, $3)',
      params: ['0193…', 'Li Lei', '13800138000', '04A22B1C9F3D80'],
    });
    logger.error({ err: failure }, 'request failed');
    logger.error({ error: failure }, 'job failed');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toContain('members_phone_key');
      expect(line).toContain('23505');
      for (const secret of ['13800138000', '04A22B1C9F3D80', 'INSERT INTO', 'Li Lei']) expect(line).not.toContain(secret);
    }
  });

  it('still censors secrets and personal data by field name', () => {
    const { lines, logger } = logged();
    logger.info({ phone: '13800138000', member: { cardUid: '04A22B1C9F3D80' }, token: 'mko_secret' }, 'member seen');
    expect(lines[0]).not.toMatch(/13800138000|04A22B1C9F3D80|mko_secret/);
  });
});
