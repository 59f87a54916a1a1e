import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { arch, availableParallelism, cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { binDir, startPostgres, type PostgresServer } from '../../test/helpers/postgres-server.ts';
import { BENCH_BUDGET_ENV } from './budget.ts';
import { HUB_INGEST_RATE_METRIC, RAW_MESSAGE_CPU_METRIC } from './fleet-ingest.ts';
import { BENCH_DATABASE_URL_ENV } from './fleet-hub.ts';
import { BENCH_PG_BIN_ENV, LEDGER_FLOOR_METRIC, PGBENCH_TPS_METRIC } from './pgbench.ts';
import { withClient } from './server-client.ts';
import { noteRow, printTable, type BenchRow } from './stats.ts';

/** The table's name for the rows that set the hub's rates beside pgbench's. */
const AGAINST_PGBENCH = 'hub vs pgbench (same PostgreSQL server, same run)';

/**
 * `npm run bench`: runs every bench, each in its own process with a time budget, prints one table and writes
 * bench-results/latest.json — always, whatever a bench did. A bench that runs out of budget reports how far it got;
 * one that fails, or has to be stopped, gets a row saying so. The fleet benches run on embedded PGlite (the hub's
 * default) and, when PostgreSQL server binaries are installed, again on a server started for this run, next to
 * pgbench on that same server and the card lookup at a million members there.
 */
interface Planned {
  bench: string;
  budgetS: number;
  /** Runs on a fresh database of this run's PostgreSQL server (skipped without one). */
  postgres?: boolean;
  /** Runs the hub: its rows say which database it ran on. */
  fleet?: boolean;
}

const PLAN: readonly Planned[] = [
  { bench: 'nfc-tap', budgetS: 60 },
  { bench: 'cctalk-poll', budgetS: 30 },
  { bench: 'kiosk-append', budgetS: 60 },
  { bench: 'fleet-ingest', budgetS: 90, fleet: true },
  { bench: 'fleet-idle', budgetS: 120, fleet: true },
  { bench: 'fleet-backlog', budgetS: 100, fleet: true },
  { bench: 'pgbench', budgetS: 45, postgres: true },
  { bench: 'fleet-ingest', budgetS: 90, fleet: true, postgres: true },
  { bench: 'fleet-idle', budgetS: 120, fleet: true, postgres: true },
  { bench: 'fleet-backlog', budgetS: 100, fleet: true, postgres: true },
  { bench: 'card-lookup', budgetS: 180, postgres: true },
];

/** `npm run bench -- card-lookup fleet-idle` runs only those (on every database they run on). */
const only = process.argv.slice(2);

/** Past its budget a bench process gets this long to clean up and report before its process group is ended. */
const GRACE_MS = 20_000;

const rows: BenchRow[] = [];
const started = performance.now();
let server: PostgresServer | undefined;
let pgBin: string | undefined;
try {
  try {
    pgBin = await binDir();
    // Durable, as in production: the hub acknowledges only after its commit is on disk, and pgbench's commits flush too.
    // Its buffer cache sized as a production server's (a quarter of the memory, here at most 2 GB), not the 128 MB
    // default: the million members of the card lookup then fit, as a chain's members would on its server.
    server = await startPostgres({ durable: true, settings: { shared_buffers: `${Math.min(2048, Math.floor(totalmem() / 4 / 2 ** 20))}MB` } });
  } catch (error) {
    rows.push(noteRow('PostgreSQL server', 'benches on PostgreSQL', `skipped: ${(error as Error).message}`));
  }
  for (const planned of PLAN) {
    if ((planned.postgres && !server) || (only.length > 0 && !only.includes(planned.bench))) continue;
    const where = planned.postgres ? 'PostgreSQL' : 'PGlite';
    process.stderr.write(`running ${planned.bench}${planned.fleet || planned.postgres ? ` on ${where}` : ''} (budget ${planned.budgetS} s)…\n`);
    const env: NodeJS.ProcessEnv = { [BENCH_BUDGET_ENV]: String(planned.budgetS * 1000) };
    const databaseUrl = planned.postgres ? await server!.createDatabase() : undefined;
    if (databaseUrl) Object.assign(env, { [BENCH_DATABASE_URL_ENV]: databaseUrl, [BENCH_PG_BIN_ENV]: pgBin });
    const benchRows = await runInChild(planned, env);
    if (databaseUrl) await dropAndCheckpoint(server!.url, databaseUrl);
    rows.push(...(planned.fleet ? benchRows.map((row) => ({ ...row, bench: `${row.bench} · ${where}` })) : benchRows));
  }
  rows.push(...againstPgbench(rows));
} catch (error) {
  rows.push(noteRow('npm run bench', 'the run itself', `stopped early: ${(error as Error).message}`));
} finally {
  await server?.stop().catch(() => undefined);
  printTable(rows);
  const machine = { node: process.version, arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem() };
  const totalS = Math.round((performance.now() - started) / 1000);
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/latest.json', JSON.stringify({ at: new Date().toISOString(), totalSeconds: totalS, machine, rows }, null, 2));
  console.log(`\nwritten: bench-results/latest.json (whole run ${totalS} s)`);
}

/**
 * Runs one bench in its own process group (child.ts) and returns its rows; a bench that fails gets an error row,
 * one still running past its budget and the grace is ended with everything it started and gets a row saying so.
 */
async function runInChild(planned: Planned, env: NodeJS.ProcessEnv): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mk-bench-result-'));
  const resultFile = join(dir, 'result.json');
  const start = performance.now();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/child.ts', planned.bench], {
      env: { ...process.env, ...env, BENCH_RESULT_FILE: resultFile },
      // Its own process group, so ending it also ends the hub processes, pcscd and socat it started.
      detached: true,
      stdio: ['ignore', process.stderr, process.stderr],
    });
    const exited = once(child, 'exit');
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, planned.budgetS * 1000 + GRACE_MS);
    await exited;
    clearTimeout(timer);
    const result = JSON.parse(await readFile(resultFile, 'utf8').catch(() => 'null')) as { rows?: BenchRow[]; error?: string } | null;
    const ms = performance.now() - start;
    if (result?.rows) return result.rows;
    const reason = result?.error
      ? `failed after ${Math.round(ms / 1000)} s: ${result.error}`
      : `did not finish within its ${planned.budgetS} s budget (+${GRACE_MS / 1000} s grace); stopped with everything it started`;
    return [noteRow(planned.bench, 'whole bench', reason)];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Leaves the server as the next bench should find it: without the last bench's database, whose tables autovacuum
 * would otherwise work through while the next one is measured (pgbench's, after 40,000 updates, in the middle of
 * the ingest's steady phase), and with nothing left to flush.
 */
async function dropAndCheckpoint(serverUrl: string, databaseUrl: string): Promise<void> {
  await withClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE ${new URL(databaseUrl).pathname.slice(1)} WITH (FORCE)`);
    await client.query('CHECKPOINT');
  });
}

/**
 * The hub's ingest on PostgreSQL as a share of what the same server does under pgbench in the same run: the burst
 * rate of fleet-ingest, and the backlog drain rate fleet-backlog puts in its metric text.
 */
function againstPgbench(all: readonly BenchRow[]): BenchRow[] {
  const onPostgres = all.filter((row) => row.bench.endsWith('· PostgreSQL'));
  const tps = all.find((row) => row.metric === PGBENCH_TPS_METRIC)?.summary?.p50;
  if (!tps) return [];
  const rates: Array<[string, number | undefined]> = [
    ['hub ingest, 1,000 kiosks in a burst', onPostgres.find((row) => row.metric === HUB_INGEST_RATE_METRIC)?.summary?.p50],
    ['hub backlog drain, one kiosk', Number(/\((\d+) tx\/s/.exec(onPostgres.find((row) => row.bench.startsWith('fleet offline backlog'))?.metric ?? '')?.[1]) || undefined],
  ];
  const notes = rates.flatMap(([what, rate]) =>
    rate ? [noteRow(AGAINST_PGBENCH, what, `${Math.round(rate)} tx/s vs pgbench ${Math.round(tps)} TPS = ${Math.round((rate / tps) * 1000) / 10}%`)] : [],
  );
  return [...notes, ...twiceAsFast(tps, all, onPostgres)];
}

/**
 * What ingesting at twice pgbench's rate asks of this machine, next to what this run measured: every process of the
 * ingest (the simulated kiosks, the broker and hub, PostgreSQL) shares its cores, and each transaction costs at
 * least the ledger's least writes. A raw QoS 1 message is shown for scale: kiosks send their transactions and get
 * their acks several to a message (txs, tx/acks), so a transaction need not cost a whole one.
 */
function twiceAsFast(tps: number, all: readonly BenchRow[], onPostgres: readonly BenchRow[]): BenchRow[] {
  const message = onPostgres.find((row) => row.metric === RAW_MESSAGE_CPU_METRIC)?.summary?.p50;
  const ledger = all.find((row) => row.metric === LEDGER_FLOOR_METRIC)?.summary?.p50;
  if (!message || !ledger) return [];
  const cores = availableParallelism();
  const allowed = Math.round((cores * 1e6) / (2 * tps));
  const ceiling = (cores * 1e6) / ledger;
  return [
    noteRow(
      AGAINST_PGBENCH,
      'what 2× pgbench asks of this machine',
      `${Math.round(2 * tps)} tx/s: at most ${allowed} µs of CPU per transaction for kiosks, broker, hub and database together on ${cores} cores; ` +
        `the ledger's least writes take ${ledger} µs of PostgreSQL alone → at most ${Math.round(ceiling)} tx/s = ${Math.round((ceiling / tps) * 100) / 100}× pgbench; ` +
        `a raw QoS 1 message costs ${message} µs (broker and kiosks), which kiosks share among the transactions and acks they send together`,
    ),
  ];
}
