import pg from 'pg';
import type { Logger } from '../../shared/logger.ts';
import type { Database, Queryable } from './database.ts';
import { INT8_OID, parseInt8 } from './int8.ts';
import { statementName } from './statement-names.ts';

const NEEDS_ESCAPE = /["\\]/;

/**
 * A flat array of strings, numbers and nulls as a PostgreSQL array literal, as node-postgres would write it; any
 * other array is left to node-postgres. The batch statements pass every row's values as such arrays (unnest), and
 * node-postgres escapes each element with two regex replacements even when, as nearly always, there is nothing to
 * escape: that was a hot spot of the hub under load.
 */
export function arrayLiteral(values: readonly unknown[]): string | undefined {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (value === null || value === undefined) literal += 'NULL';
    else if (typeof value === 'number') literal += `"${value}"`;
    else if (typeof value !== 'string') return undefined;
    else if (NEEDS_ESCAPE.test(value)) literal += `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    else literal += `"${value}"`;
  }
  return `${literal}}`;
}

const parameter = (value: unknown) => (Array.isArray(value) ? (arrayLiteral(value) ?? value) : value);

function queryable(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const name = params.length === 0 ? undefined : statementName(sql);
      const values = params.map(parameter);
      const result = await target.query(name === undefined ? { text: sql, values } : { name, text: sql, values });
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      // Without parameters node-postgres uses the simple query protocol, which accepts several statements.
      await target.query(sql);
    },
  };
}

/** A real PostgreSQL server through a connection pool; each transaction holds one pooled connection. */
export function openPostgres(url: string, logger?: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
  // An idle connection can be dropped by the server; without a listener that would crash the hub.
  pool.on('error', (error) => logger?.warn({ err: error.message }, 'idle PostgreSQL connection failed'));

  return {
    backend: 'postgres',
    ...queryable(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (rollbackError) {
          // The connection is unusable; destroy it instead of handing it to the next caller.
          client.release(rollbackError as Error);
        }
        throw error;
      }
    },
    close: () => pool.end(),
  };
}
