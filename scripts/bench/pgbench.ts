import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { microsEach, postgresCpuMs, postmasterPidOf, timesOf } from './cpu.ts';
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
  const postmaster = await postmasterPidOf(url);
  const serverBefore = await postgresCpuMs(postmaster);
  // pgbench under a shell that, once pgbench has ended, prints its own /proc line: there pgbench's CPU time is the
  // shell's reaped children's time.
  const { stdout } = await run('bash', ['-c', '"$@" && cat /proc/$$/stat', 'pgbench', pgbench, '-c', '4', '-j', '2', '-T', '10', '-M', 'prepared', ...connection]);
  const serverMs = (await postgresCpuMs(postmaster)) - serverBefore;
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  const transactions = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
  if (!tps || !latency || !transactions) throw new Error(`pgbench printed no tps: ${stdout.slice(-500)}`);
  const clientMs = timesOf(stdout.trimEnd().split('\n').at(-1)!).reapedChildrenMs;
  const server = microsEach(serverMs, Number(transactions));
  const client = microsEach(clientMs, Number(transactions));
  return [
    singleValueRow(BENCH, PGBENCH_TPS_METRIC, '/s', Number(tps)),
    singleValueRow(BENCH, 'latency average per transaction (4 clients)', 'ms', Number(latency)),
    singleValueRow(BENCH, 'CPU per transaction: PostgreSQL server (all its processes)', 'µs', server),
    singleValueRow(BENCH, 'CPU per transaction: pgbench client', 'µs', client),
    singleValueRow(BENCH, 'CPU per transaction: both', 'µs', server + client),
  ];
}
