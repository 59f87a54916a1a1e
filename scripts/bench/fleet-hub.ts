import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueDeviceCredentials } from '../../cloud/devices/index.ts';
import { startHub } from '../../cloud/hub.ts';
import { DEFAULT_DEVICE_CONFIG } from '../../cloud/sync/index.ts';
import { createLogger } from '../../shared/logger.ts';
import { freePort } from '../../test/helpers/ports.ts';
import type { FleetMember } from '../../device/emulators/fleet-simulator.ts';
import { processTimes } from './cpu.ts';
import { withClient } from './server-client.ts';
import { benchMember, seedMembers } from './seed-members.ts';
import { singleValueRow, type BenchRow } from './stats.ts';

/**
 * The database the fleet benches run their hub on: a PostgreSQL database when `npm run bench` started a server and
 * gave this bench one of its own (run.ts), else embedded PGlite in a temp dir, as `npm run hub` runs by default.
 */
export const BENCH_DATABASE_URL_ENV = 'BENCH_DATABASE_URL';
export const benchDatabaseUrl = (): string | undefined => process.env[BENCH_DATABASE_URL_ENV] || undefined;

/**
 * After a warm-up round, the statistics a server in service has: autovacuum analyzes a table once enough of it
 * changed, but looks only every minute, longer than a bench; until then the planner sees the device and ledger
 * tables as empty as the bench found them, and the hub's prepared statements keep plans made for that (pgbench -i
 * likewise vacuums its tables before pgbench runs). On PGlite (no server) there is nothing to do.
 */
export async function analyzeBenchDatabase(): Promise<void> {
  const url = benchDatabaseUrl();
  if (url) await withClient(url, (client) => client.query('ANALYZE'));
}

export interface HubUsage {
  rssBytes: number;
  cpuMs: number;
}

export interface HubProcess {
  mqttUrl: string;
  members: FleetMember[];
  /** Each device's password, when the hub was started with per-device logins (options.deviceIds). */
  passwords: ReadonlyMap<string, string>;
  /** The hub process's resident memory and its user + system CPU time so far, read from /proc. */
  usage(): Promise<HubUsage>;
  stop(): Promise<void>;
}

export interface HubProcessOptions {
  /**
   * Devices of a fleet already in service: each gets its credentials, and the hub's embedded broker requires
   * per-device logins (MQTT_USERNAME and MQTT_PASSWORD set), as in production; each also has its desired
   * configuration already (the default one, as the hub gives every kiosk it sees online), as after a hub restart.
   * Without it the broker lets anyone in and every device is new to the hub.
   */
  deviceIds?: readonly string[];
}

/**
 * The hub as its own process (`cloud/main.ts`: embedded Aedes broker, and PGlite or the bench's PostgreSQL
 * database), so fleet benchmarks measure its memory and CPU apart from the simulated kiosks, and the two do not
 * share one event loop. Members (seedMembers: cards, accounts with a balance) and device credentials are
 * created beforehand on the same database by an in-process hub that is then stopped.
 */
export async function startHubProcess(memberCount: number, options: HubProcessOptions = {}): Promise<HubProcess> {
  const databaseUrl = benchDatabaseUrl();
  const dataDir = await mkdtemp(join(tmpdir(), 'mk-bench-hub-'));
  const seed = await startHub(
    { http: { host: '127.0.0.1', port: 0 }, dataDir, ...(databaseUrl ? { databaseUrl } : {}), embeddedMqtt: { host: '127.0.0.1', port: 0 } },
    createLogger('bench-seed'),
  );
  const members = Array.from({ length: memberCount }, (_, index) => benchMember(index + 1));
  const passwords = new Map<string, string>();
  try {
    await seedMembers(seed.db, memberCount);
    const ids = options.deviceIds ?? [];
    for (let first = 0; first < ids.length; first += 100) {
      const issued = await Promise.all(ids.slice(first, first + 100).map((id) => issueDeviceCredentials(seed.db, id)));
      for (const credentials of issued) passwords.set(credentials.username, credentials.password);
    }
    // One statement for all (ConfigShadow.ensureDesired would publish each): the rows it would have written.
    await seed.db.query(
      `INSERT INTO device_config (device_id, desired, desired_version) SELECT id, $2::jsonb, 1 FROM unnest($1::text[]) AS id`,
      [ids, JSON.stringify(DEFAULT_DEVICE_CONFIG)],
    );
  } finally {
    await seed.stop();
  }
  const hubLogin = options.deviceIds ? { MQTT_USERNAME: 'bench-hub', MQTT_PASSWORD: randomBytes(24).toString('base64url') } : {};
  const mqttPort = await freePort();
  const child = spawn(process.execPath, await hubArguments(), {
    env: {
      ...process.env,
      HUB_DATA_DIR: dataDir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      ...hubLogin,
      HUB_PORT: '0',
      MQTT_PORT: String(mqttPort),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('Hub REST API') && resolve());
    child.once('exit', (code) => reject(new Error(`hub process exited with ${code} before starting`)));
  });
  return {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    members,
    passwords,
    async usage() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
      return { rssBytes: rssKb * 1024, cpuMs: (await processTimes(child.pid!))!.ownMs };
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Node's arguments for the hub as `npm run hub` starts it (package.json), so the bench measures the hub as it is
 * run. That script gives V8 semi-spaces of 64 MB instead of 16: under the ingest bench's burst the scavenger took
 * 12–15 % of the hub's time with the default (CPU profile), and with 64 MB the hub process spent 15 % less CPU per
 * transaction and ingested 8 % more (means of 4 interleaved runs on PostgreSQL).
 */
async function hubArguments(): Promise<string[]> {
  const { scripts } = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
  const [node, ...args] = scripts.hub!.trim().split(/\s+/);
  if (node !== 'node') throw new Error(`package.json's hub script should start with node, not ${node}`);
  return args;
}

/** A row for a single measured duration (a drain, a ramp-up), whose rate or size goes in the metric text. */
export function durationRow(bench: string, metric: string, ms: number): BenchRow {
  return singleValueRow(bench, metric, 'ms', ms);
}

/** Nearest-rank p99, for the metric text. */
export function p99(samplesMs: number[]): number {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]! * 100) / 100;
}

export const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);
export const megabytes = (bytes: number) => Math.round(bytes / 1024 / 1024);
