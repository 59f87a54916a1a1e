import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const PG_ROOT = '/usr/lib/postgresql';
const READY_LINE = 'database system is ready to accept connections';

export interface PostgresServer {
  /** Connection string of the server's default `postgres` database. */
  url: string;
  /** A fresh, empty database on this server, for a test that needs one of its own. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (/usr/lib/postgresql/<version>/bin). */
export async function binDir(): Promise<string> {
  const versions = (await readdir(PG_ROOT).catch(() => []))
    .filter((name) => /^\d+$/.test(name) && existsSync(join(PG_ROOT, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL server binaries under ${PG_ROOT}; install postgresql`);
  return join(PG_ROOT, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PostgresServerOptions {
  /**
   * Commits flushed to disk as a production server does (PostgreSQL's defaults). Off by default: tests want speed
   * and never pull the plug on the machine; benchmarks of commit throughput need it on (`npm run bench`).
   */
  durable?: boolean;
  /** More server settings (`-c name=value`), e.g. shared_preload_libraries for a profiling run. */
  settings?: Record<string, string>;
}

/**
 * Starts a throwaway PostgreSQL server: initdb into a fresh temp dir, postgres on a free 127.0.0.1 port with
 * its unix socket in that dir. Resolves once the server logs that it accepts connections. initdb and postgres
 * refuse to run as root, so as root they run as user postgres.
 */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), 'member-kiosk-pg-'));
  const dataDir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    await chown(dir, Number(uid.stdout), Number(gid.stdout));
  }
  const command = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args];

  await run(...command('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']));
  const port = await freePort();
  const server = spawn(
    ...command('postgres', [
      '-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dir,
      ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

  let log = '';
  await new Promise<void>((resolve, reject) => {
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk: string) => {
      if (log.length < 64_000) log += chunk;
      if (log.includes(READY_LINE)) resolve();
    });
    server.once('exit', (code) => reject(new Error(`postgres exited with code ${code} before it was ready:\n${log}`)));
    server.once('error', reject);
  });

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, close connections, exit. It goes
      // to the postmaster itself (its pid is line 1 of postmaster.pid) because runuser does not forward SIGINT.
      if (server.exitCode === null) {
        const postmasterPid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        process.kill(postmasterPid, 'SIGINT');
      }
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
