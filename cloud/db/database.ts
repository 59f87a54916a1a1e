import type { Logger } from '../../shared/logger.ts';
import { applyMigrations } from './migrate.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export interface QueryResult<T> {
  rows: T[];
}

/** Something SQL can run on: the database itself or one open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs one or more parameterless statements (a migration file) in the simple query protocol. */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly backend: 'pglite' | 'postgres';
  /**
   * Runs fn in one database transaction: committed when fn resolves, rolled back when it throws.
   * Concurrent callers are safe on both backends (PGlite queues them; PostgreSQL gives each a connection).
   * Inside fn use only `tx`: on PGlite a query on the database itself would wait for this very transaction.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection string; without it the hub runs on embedded PGlite. */
  url?: string;
  /** PGlite data directory; without it PGlite keeps everything in memory. Ignored with `url`. */
  dataDir?: string;
  logger?: Logger;
}

/** Opens the hub database and brings its schema up to date before anyone can use it. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const db = options.url ? openPostgres(options.url, options.logger) : await openPglite(options.dataDir);
  try {
    const applied = await applyMigrations(db);
    if (applied.length > 0) options.logger?.info({ backend: db.backend, applied }, 'database migrations applied');
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
