import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../shared/logger.ts';
import type { Database, Queryable } from './database.ts';
import { INT8_OID, parseInt8 } from './int8.ts';

/**
 * The name a parameterised statement is prepared under: the same text always gets the same name, so each pooled
 * connection parses and plans it once and then only binds and executes it. Parameterless text is sent unnamed
 * (it may hold several statements, which a prepared statement cannot). Each connection keeps what it prepared, so
 * the number of names is capped: text built with varying literals past the cap simply goes unnamed.
 */
const MAX_NAMED_STATEMENTS = 2000;
const statementNames = new Map<string, string>();
function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `s_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}

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
