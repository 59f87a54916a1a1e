import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { arrayLiteral } from '../../cloud/db/postgres.ts';

/** node-postgres's own conversion of a parameter (pg/lib/utils prepareValue), which arrayLiteral must match exactly. */
const { prepareValue: byNodePostgres } = createRequire(import.meta.url)('pg/lib/utils') as { prepareValue(value: unknown): unknown };

describe('array parameters on PostgreSQL', () => {
  it('are written as node-postgres writes them', () => {
    const arrays: unknown[][] = [
      [],
      ['plain', 'with space', 'uuid-0195e0a1-7c3b-7d2e-9a4f-000000000001'],
      ['quote"inside', 'back\\slash', '\\"both"\\', '{braces,comma}', 'NULL', '', '中文'],
      [1, -2, 3.5, 0, Number.MAX_SAFE_INTEGER],
      ['mixed', 7, null, undefined],
    ];
    for (const values of arrays) expect(arrayLiteral(values)).toBe(byNodePostgres(values));
  });

  it('leave anything else to node-postgres', () => {
    expect(arrayLiteral([[1, 2]])).toBeUndefined();
    expect(arrayLiteral([true])).toBeUndefined();
    expect(arrayLiteral([new Date(0)])).toBeUndefined();
    expect(arrayLiteral([Buffer.from('x')])).toBeUndefined();
  });
});
