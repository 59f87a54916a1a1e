import { describe, expect, it } from 'vitest';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, key, rowCounts, useDatabases } from './support.ts';

const databases = useDatabases();

/**
 * Text with a control character, and an instant no program can mean, are refused by every route before anything
 * runs (issue 11: a NUL byte in a name or an idempotency key reached PostgreSQL, which refuses it in text, and dates
 * like 0000-01-01 failed in the database: the client got a 500).
 */
describe.each(BACKENDS)('control characters and impossible instants in requests on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend));
  const manager = () => rest.org.tokens.xuhui.manager;

  const refusedAt = (reply: { statusCode: number; json(): unknown }, where: string) => {
    expect(reply.statusCode).toBe(400);
    const { error } = reply.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toContain(`${where}: text must not contain control characters`);
  };

  it('refuses a NUL, a bell or an escape anywhere in a body, and changes nothing', async () => {
    const before = await rowCounts(rest.db);
    for (const name of ['Li\u0000Lei', 'Li\u0007Lei', '\u001b[31mLi Lei']) {
      refusedAt(await rest.send('POST', '/members', manager(), { name }), '/name');
    }
    const member = (await rest.send('POST', '/members', manager(), { name: 'Li Lei' })).json() as { memberId: string };
    const afterMember = await rowCounts(rest.db);
    refusedAt(await rest.send('POST', `/members/${member.memberId}/topups`, manager(), { idempotencyKey: `${key()}\u0000`, amountFen: 1_000 }), '/idempotencyKey');
    expect(await rowCounts(rest.db)).toEqual(afterMember);
    expect(afterMember.members).toBe(Number(before.members) + 1);
  });

  it('refuses instants outside 1970–2999 (year 0, year 10000 by its offset) with a 400 instead of failing later', async () => {
    const hq = rest.org.tokens.hq.admin;
    const settlement = (from: string, to: string) =>
      rest.send('GET', `/settlement?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, hq);
    const windows: Array<[string, string]> = [
      ['0000-01-01T00:00:00Z', '2026-12-01T00:00:00Z'],
      ['2026-11-01T00:00:00Z', '9999-12-31T23:59:59-23:59'],
      ['1969-12-31T23:59:59Z', '2026-12-01T00:00:00Z'],
    ];
    for (const [from, to] of windows) {
      const reply = await settlement(from, to);
      expect(reply.statusCode, `${from} → ${to}`).toBe(400);
      expect((reply.json() as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
    expect((await settlement('2026-11-01T00:00:00+08:00', '2026-12-01T00:00:00+08:00')).statusCode).toBe(200);
  });

  it('refuses one in a path parameter or a query', async () => {
    refusedAt(await rest.send('GET', '/members/%00', manager()), '/memberId');
    const member = (await rest.send('POST', '/members', manager(), { name: 'Han Meimei' })).json() as { memberId: string };
    refusedAt(await rest.send('GET', `/members/${member.memberId}/statement?limit=1%00`, manager()), '/limit');
  });
});
