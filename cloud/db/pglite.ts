import { mkdir } from 'node:fs/promises';
import { PGlite, parse, protocol, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable } from './database.ts';
import { INT8_OID, parseInt8 } from './int8.ts';
import { statementName } from './statement-names.ts';

/**
 * Parameterised statements as named prepared statements on PGlite's one connection. PGlite's own query() parses and
 * plans the text every time, and makes five calls into the WASM backend for it (parse, describe, bind, describe,
 * execute); the hub's batches run the same few dozen statements thousands of times (issue 10). Here a statement is
 * parsed once (its parameter types read with it), and each run is one call: bind, describe, execute and sync in one
 * message buffer — the backend then is at ReadyForQuery whatever happened, as after PGlite's own query().
 */
class PreparedStatements {
  private readonly paramTypes = new Map<string, number[]>();

  constructor(private readonly pglite: PGlite) {}

  /** Runs `sql` as its named statement; the caller holds PGlite's query lock (and its transaction lock outside one). */
  async run<T>(name: string, sql: string, params: readonly unknown[]): Promise<T[]> {
    const { serialize } = protocol;
    let types = this.paramTypes.get(name);
    if (!types) {
      const described = await this.call(serialize.parse({ name, text: sql }), serialize.describe({ type: 'S', name }), serialize.sync());
      types = parse.parseDescribeStatementResults(described);
      this.paramTypes.set(name, types);
    }
    // As PGlite's query() serialises them: by the type the server gave each parameter.
    const values = params.map((value, index) => {
      if (value === null || value === undefined) return null;
      const serializer = this.pglite.serializers[types[index]!];
      return serializer ? (serializer(value) as string) : String(value);
    });
    const messages = await this.call(serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync());
    return parse.parseResults(messages, this.pglite.parsers)[0]!.rows as T[];
  }

  private call(...parts: Uint8Array[]) {
    const buffer = new Uint8Array(parts.reduce((length, part) => length + part.byteLength, 0));
    let offset = 0;
    for (const part of parts) {
      buffer.set(part, offset);
      offset += part.byteLength;
    }
    return this.pglite.execProtocolStream(buffer, { syncToFs: false });
  }
}

function queryable(pglite: PGlite, prepared: PreparedStatements, tx?: Transaction): Queryable {
  const target = tx ?? pglite;
  return {
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const name = params.length === 0 ? undefined : statementName(sql);
      if (name === undefined) return { rows: (await target.query<T>(sql, [...params])).rows };
      if (tx) return { rows: await pglite._runExclusiveQuery(() => prepared.run<T>(name, sql, params)) };
      // Outside a transaction, as PGlite's query(): after any transaction in progress, then written out.
      await pglite._checkReady();
      const rows = await pglite._runExclusiveTransaction(() => pglite._runExclusiveQuery(() => prepared.run<T>(name, sql, params)));
      await pglite.syncToFs();
      return { rows };
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
  const prepared = new PreparedStatements(pglite);
  return {
    backend: 'pglite',
    ...queryable(pglite, prepared),
    transaction: (fn) => pglite.transaction((tx) => fn(queryable(pglite, prepared, tx))),
    close: () => pglite.close(),
  };
}
