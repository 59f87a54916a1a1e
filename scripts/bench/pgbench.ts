import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchDatabaseUrl } from './fleet-hub.ts';
import { noteRow, singleValueRow, type BenchRow } from './stats.ts';

const run = promisify(execFile);

const BENCH = 'pgbench tpcb-like (same PostgreSQL server)';
/** The metric of pgbench's TPS row, which run.ts sets beside the hub's ingest rate on the same server. */
export const PGBENCH_TPS_METRIC = 'TPS, scale 1, -c 4 -j 2 -T 10 -M prepared';
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
  const { stdout } = await run(pgbench, ['-c', '4', '-j', '2', '-T', '10', '-M', 'prepared', ...connection]);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  if (!tps || !latency) throw new Error(`pgbench printed no tps: ${stdout.slice(-500)}`);
  return [
    singleValueRow(BENCH, PGBENCH_TPS_METRIC, '/s', Number(tps)),
    singleValueRow(BENCH, 'latency average per transaction (4 clients)', 'ms', Number(latency)),
  ];
}
