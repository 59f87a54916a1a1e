import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './database.ts';
import { INT8_OID, parseInt8 } from './int8.ts';

function queryable(target: Pick<PGlite, 'query' | 'exec'>): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const result = await target.query<T>(sql, [...params]);
      return { rows: result.rows };
    },
    async exec(sql: string) {
      await target.exec(sql);
    },
  };
}

/** Embedded PostgreSQL (WASM) in this process: one connection, so PGlite itself queues queries and transactions. */
export async function openPglite(dataDir?: string): Promise<Database> {
  // PGlite creates the data directory itself but not its parents (e.g. data/hub on a fresh clone).
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir, parsers: { [INT8_OID]: parseInt8 } });
  return {
    backend: 'pglite',
    ...queryable(pglite),
    transaction: (fn) => pglite.transaction((tx) => fn(queryable(tx))),
    close: () => pglite.close(),
  };
}
