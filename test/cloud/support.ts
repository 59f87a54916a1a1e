import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, expect } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { HubError } from '../../cloud/kernel/errors.ts';
import type { Ledger } from '../../cloud/ledger/index.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres-server.ts';

export type Backend = Database['backend'];
export const BACKENDS: Backend[] = ['pglite', 'postgres'];

/**
 * Fresh hub databases for a test file on either backend. The file's one PostgreSQL server starts with the
 * first PostgreSQL database asked for; everything opened here is closed, and the server stopped, after the file.
 */
export function useDatabases() {
  let server: Promise<PostgresServer> | undefined;
  const opened: Database[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await (await server)?.stop();
  });
  const postgresUrl = async () => (await (server ??= startPostgres())).createDatabase();
  return {
    /** A URL of a new, empty PostgreSQL database (nothing migrated yet). */
    postgresUrl,
    async open(backend: Backend): Promise<Database> {
      const db = await openDatabase(backend === 'postgres' ? { url: await postgresUrl() } : {});
      opened.push(db);
      return db;
    },
  };
}

export async function rowCounts(db: Database): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM members) AS members, (SELECT count(*) FROM cards) AS cards,
            (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM ledger_transactions) AS transactions,
            (SELECT count(*) FROM postings) AS postings`,
  );
  return rows[0]!;
}

/** Double entry over the whole ledger, and every member balance equal to the sum of its postings. */
export async function expectLedgerConsistent(db: Database): Promise<void> {
  const unbalanced = await db.query(
    'SELECT asset, sum(amount)::bigint AS total FROM postings GROUP BY asset HAVING sum(amount) <> 0',
  );
  expect(unbalanced.rows).toEqual([]);
  const drifted = await db.query(
    `SELECT a.id FROM accounts a LEFT JOIN postings p ON p.account_id = a.id
      WHERE a.member_id IS NOT NULL GROUP BY a.id, a.balance HAVING a.balance <> coalesce(sum(p.amount), 0)`,
  );
  expect(drifted.rows).toEqual([]);
}

let keys = 0;
/** A unique idempotency key. */
export function key(label = 'k'): string {
  return `${label}-${process.pid}-${++keys}-${Date.now()}`;
}

/** A random 4-byte NFC UID, upper-case hex. */
export function newCardUid(): string {
  return randomBytes(4).toString('hex').toUpperCase();
}

/** A random 16-digit card number. */
export function newCardNumber(): string {
  return Array.from({ length: 4 }, () => String(randomInt(10_000)).padStart(4, '0')).join('');
}

/** The refusal (HubError) a call was refused with (fails the test when it succeeds or throws something else). */
const ledgers = new WeakMap<Database, Promise<Ledger>>();

/**
 * The hub's ledger on `db`, wired as startHub wires it: asking the cards and program modules through its ports,
 * and refunding each module's transactions through that module's reverser. One per database.
 */
export function testLedger(db: Database): Promise<Ledger> {
  let ledger = ledgers.get(db);
  if (!ledger) {
    ledger = assembleTestHub(db).then((hub) => hub.services.ledger);
    ledgers.set(db, ledger);
  }
  return ledger;
}

export async function refusal(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}
