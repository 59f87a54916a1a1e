import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import { openPglite } from '../../cloud/db/pglite.ts';

/**
 * PGlite runs parameterised statements as named prepared statements (cloud/db/pglite.ts): the same answers as its
 * own query() for every value and type, errors with their codes, and the one connection usable after an error —
 * inside a transaction and outside one.
 */
describe('prepared statements on PGlite', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openPglite();
    await db.exec('CREATE TABLE prepared_probe (id int PRIMARY KEY, label text, at timestamptz, tags text[], big bigint)');
  });

  afterAll(() => db.close());

  it('binds each run its own values, of every type, nulls included', async () => {
    const insert = 'INSERT INTO prepared_probe (id, label, at, tags, big) VALUES ($1, $2, $3, $4, $5) RETURNING id';
    const at = new Date('2026-12-06T01:02:03.456Z');
    for (let id = 1; id <= 8; id++) {
      const label = id % 2 ? `第${id}号 "quoted", back\\slash` : null;
      expect((await db.query(insert, [id, label, id % 3 ? at : null, [`t${id}`, 'a,b', 'NULL'], 9_007_199_254_740_000 + id])).rows).toEqual([{ id }]);
    }
    const select = 'SELECT id, label, at, tags, big FROM prepared_probe WHERE id = ANY($1::int[]) ORDER BY id';
    const { rows } = await db.query<{ id: number; label: string | null; at: Date | null; tags: string[]; big: number }>(select, [[1, 2, 3]]);
    expect(rows).toEqual([
      { id: 1, label: '第1号 "quoted", back\\slash', at, tags: ['t1', 'a,b', 'NULL'], big: 9_007_199_254_740_001 },
      { id: 2, label: null, at, tags: ['t2', 'a,b', 'NULL'], big: 9_007_199_254_740_002 },
      { id: 3, label: '第3号 "quoted", back\\slash', at: null, tags: ['t3', 'a,b', 'NULL'], big: 9_007_199_254_740_003 },
    ]);
    expect((await db.query(select, [[8]])).rows).toHaveLength(1);
  });

  it('fails with the database error and stays usable, outside a transaction and inside one', async () => {
    const insert = 'INSERT INTO prepared_probe (id, label) VALUES ($1, $2)';
    await db.query(insert, [100, 'first']);
    await expect(db.query(insert, [100, 'again'])).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT label FROM prepared_probe WHERE id = $1', [100])).rows).toEqual([{ label: 'first' }]);

    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, [101, 'in the transaction']);
        await tx.query(insert, [100, 'duplicate']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT count(*)::int AS n FROM prepared_probe WHERE id = $1', [101])).rows).toEqual([{ n: 0 }]);
    await expect(db.query('SELECT nothing FROM prepared_probe WHERE id = $1', [1])).rejects.toMatchObject({ code: '42703' });
    expect((await db.query('SELECT label FROM prepared_probe WHERE id = $1', [100])).rows).toEqual([{ label: 'first' }]);
  });
});
