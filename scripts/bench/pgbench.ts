import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openDatabase } from '../../cloud/db/database.ts';
import { microsEach, postgresCpuMs, postmasterPidOf, timesOf } from './cpu.ts';
import { benchDatabaseUrl } from './fleet-hub.ts';
import { seedMembers } from './seed-members.ts';
import { noteRow, singleValueRow, type BenchRow } from './stats.ts';

const run = promisify(execFile);

const BENCH = 'pgbench tpcb-like (same PostgreSQL server)';
/** The metric of pgbench's TPS row, which run.ts sets beside the hub's ingest rate on the same server. */
export const PGBENCH_TPS_METRIC = 'TPS, scale 1, -c 4 -j 2 -T 10 -M prepared';
/** The metric of the ledger floor's row, which run.ts uses for what this machine can ingest at best. */
export const LEDGER_FLOOR_METRIC = "PostgreSQL CPU per top-up, for the ledger's least writes (pgbench custom script, batches of 256, 2 clients)";
/** Top-ups per transaction of the floor script: the gateway's largest batch. */
const FLOOR_BATCH = 256;
/** Members of the floor script: each of its two clients writes to its own half, so they never wait on each other. */
const FLOOR_MEMBERS = 20_000;
/** Where run.ts says the server's binaries are: pgbench ships beside initdb (Debian's postgresql package). */
export const BENCH_PG_BIN_ENV = 'BENCH_PG_BIN';

/**
 * PostgreSQL's own benchmark on the bench's database, as the reference for the hub's ingest rate: the same server,
 * the same settings and the same run. tpcb-like is five statements per transaction (three updates, a select, an
 * insert) under concurrency, close in shape to a posting.
 */
export async function benchPgbench(): Promise<BenchRow[]> {
  const url = benchDatabaseUrl();
  const bin = process.env[BENCH_PG_BIN_ENV];
  if (!url || !bin) return [noteRow(BENCH, PGBENCH_TPS_METRIC, 'skipped: needs a PostgreSQL server (none found under /usr/lib/postgresql)')];
  const { hostname, port, pathname } = new URL(url);
  const connection = ['-h', hostname, '-p', port, '-U', 'postgres', pathname.slice(1)];
  const pgbench = join(bin, 'pgbench');
  await run(pgbench, ['-i', '-s', '1', '-q', ...connection]);
  const postmaster = await postmasterPidOf(url);
  // pgbench under a shell that, once pgbench has ended, prints its own /proc line: there pgbench's CPU time is the
  // shell's reaped children's time.
  const { stdout, transactions, serverMs } = await measured(postmaster, 'bash', ['-c', '"$@" && cat /proc/$$/stat', 'pgbench', pgbench, '-c', '4', '-j', '2', '-T', '10', '-M', 'prepared', ...connection]);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  if (!tps || !latency) throw new Error(`pgbench printed no tps: ${stdout.slice(-500)}`);
  const clientMs = timesOf(stdout.trimEnd().split('\n').at(-1)!).reapedChildrenMs;
  const server = microsEach(serverMs, transactions);
  const client = microsEach(clientMs, transactions);
  return [
    singleValueRow(BENCH, PGBENCH_TPS_METRIC, '/s', Number(tps)),
    singleValueRow(BENCH, 'latency average per transaction (4 clients)', 'ms', Number(latency)),
    singleValueRow(BENCH, 'CPU per transaction: PostgreSQL server (all its processes)', 'µs', server),
    singleValueRow(BENCH, 'CPU per transaction: pgbench client', 'µs', client),
    singleValueRow(BENCH, 'CPU per transaction: both', 'µs', server + client),
    ...(await ledgerFloor(url, pgbench, connection, postmaster)),
  ];
}

/**
 * The least PostgreSQL work a top-up's ledger rows can cost on this server, for what limits the hub's ingest: on the
 * hub's own schema (its migrations, members seeded as for the fleet benches), pgbench runs a script that posts
 * FLOOR_BATCH top-ups per transaction with nothing but the ledger's own rows — the ledger transaction, its two
 * postings and the member's balance — each kind in one set-based statement with its values made on the server. No
 * idempotency record, device sequence, member version or kiosk cache, no parameters to parse, no results to send:
 * what the hub writes per top-up is this and more.
 */
async function ledgerFloor(url: string, pgbench: string, connection: string[], postmaster: number): Promise<BenchRow[]> {
  const db = await openDatabase({ url });
  const cash = '00000000-0000-4000-9000-000000000001';
  try {
    await seedMembers(db, FLOOR_MEMBERS);
    await db.query(`INSERT INTO accounts (id, kind, asset, system_code) VALUES ($1, 'cash_received', 'CNY', 'cash_received:bench-floor')`, [cash]);
  } finally {
    await db.close();
  }
  // Member i's ids as seedMembers makes them; a transaction's id from the script's random number and its row.
  const member = (tag: string) => `('00000000-0000-4000-${tag}-' || lpad(to_hex(:base + n), 12, '0'))::uuid`;
  const txId = `md5(:r || '-' || n)::uuid`;
  const rows = `generate_series(1, ${FLOOR_BATCH}) AS n`;
  const script = `\\set base (:client_id % 2) * ${FLOOR_MEMBERS / 2} + random(1, ${FLOOR_MEMBERS / 2 - FLOOR_BATCH})
\\set r random(1, 9000000000000000000)
BEGIN;
INSERT INTO ledger_transactions (id, idempotency_key, kind, owner, member_id, actor_type, actor_id, reason, device_id, device_seq) SELECT ${txId}, 'floor-' || :r || '-' || n, 'cash_topup', 'device', ${member('8000')}, 'device', 'bench-floor', 'cash top-up', 'bench-floor', n FROM ${rows};
UPDATE accounts SET balance = balance + 100 WHERE id IN (SELECT ${member('8001')} FROM ${rows});
INSERT INTO postings (tx_id, account_id, asset, amount, balance_after) SELECT ${txId}, ${member('8001')}, 'CNY', 100, 100 FROM ${rows} UNION ALL SELECT ${txId}, '${cash}', 'CNY', -100, NULL FROM ${rows};
COMMIT;
`;
  const dir = await mkdtemp(join(tmpdir(), 'mk-bench-floor-'));
  try {
    const file = join(dir, 'ledger-floor.sql');
    await writeFile(file, script);
    const { transactions: batches, serverMs } = await measured(postmaster, pgbench, ['-n', '-f', file, '-c', '2', '-j', '2', '-T', '10', ...connection]);
    return [singleValueRow(BENCH, LEDGER_FLOOR_METRIC, 'µs', microsEach(serverMs, batches * FLOOR_BATCH))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a pgbench command: what it printed, the transactions it says it ran, and the server's CPU time meanwhile. */
async function measured(postmaster: number, command: string, args: string[]): Promise<{ stdout: string; transactions: number; serverMs: number }> {
  const before = await postgresCpuMs(postmaster);
  const { stdout } = await run(command, args);
  const serverMs = (await postgresCpuMs(postmaster)) - before;
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  if (!transactions) throw new Error(`pgbench ran no transaction: ${stdout.slice(-500)}`);
  return { stdout, transactions, serverMs };
}
