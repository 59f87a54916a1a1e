import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor, withDeadline } from './events.ts';

/**
 * A private pcscd with one vsmartcard-vpcd reader, for one test file.
 *
 * pcscd always creates /run/pcscd/pcscd.comm, so each daemon gets its own mount namespace with a temp
 * dir bound over /run/pcscd; the client library finds it through PCSCLITE_CSOCK_NAME, which it reads
 * once per process — hence one daemon per test file (vitest runs each file in its own fork).
 */
export interface PcscdHandle {
  /** vpcd's TCP port for slot 0 (reader "Virtual PCD 00 00"); slot 1 listens on vpcdPort + 1. */
  vpcdPort: number;
  socketPath: string;
  /**
   * Kills the daemon but keeps its socket path and vpcd ports, then startDaemon() brings it back the way
   * a restarted or upgraded pcscd comes back: clients see their readers vanish and reappear.
   */
  stopDaemon(): Promise<void>;
  startDaemon(): Promise<void>;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install -y pcscd vsmartcard-vpcd';
const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
/** pcscd is up in well under a second; a busy two-core machine can take many times that. */
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

export async function startPcscd(): Promise<PcscdHandle> {
  if (process.getuid?.() !== 0) {
    throw new Error(`startPcscd needs root (it runs pcscd in a private mount namespace with unshare); run the tests as root, with the packages from: ${INSTALL_HINT}`);
  }
  const pcscd = await findExecutable('pcscd');
  const unshare = await findExecutable('unshare');
  await access(VPCD_DRIVER, constants.R_OK).catch(() => {
    throw new Error(`vpcd driver ${VPCD_DRIVER} is missing; install it with: ${INSTALL_HINT}`);
  });

  const dir = await mkdtemp(join(tmpdir(), 'pcscd-'));
  const runDir = join(dir, 'run');
  const confDir = join(dir, 'conf');
  await mkdir(runDir);
  await mkdir(confDir);
  const vpcdPort = await freePortPair();
  const channel = `0x${vpcdPort.toString(16).toUpperCase()}`;
  await writeFile(join(confDir, 'vpcd'), [
    'FRIENDLYNAME "Virtual PCD"',
    // "/dev/null" as host makes the driver listen for virtual cards instead of dialling out.
    `DEVICENAME   /dev/null:${channel}`,
    `LIBPATH      ${VPCD_DRIVER}`,
    `CHANNELID    ${channel}`,
    '',
  ].join('\n'));

  const socketPath = join(runDir, 'pcscd.comm');
  let daemon: Daemon | undefined;
  const stopDaemon = async (): Promise<void> => {
    const running = daemon;
    daemon = undefined;
    if (running) await running.stop();
    // A daemon killed hard leaves its socket file behind; readiness of the next one must not see it.
    await rm(socketPath, { force: true });
  };
  const startDaemon = async (): Promise<void> => {
    if (daemon) return;
    daemon = launchDaemon(unshare, pcscd, runDir, confDir);
    try {
      await waitUntilReady(socketPath, vpcdPort, daemon.child, daemon.output);
    } catch (error) {
      await stopDaemon();
      throw error;
    }
  };
  const stop = async (): Promise<void> => {
    await stopDaemon();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await startDaemon();
  } catch (error) {
    await stop();
    throw error;
  }
  process.env.PCSCLITE_CSOCK_NAME = socketPath;
  return { vpcdPort, socketPath, stopDaemon, startDaemon, stop };
}

interface Daemon {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function launchDaemon(unshare: string, pcscd: string, runDir: string, confDir: string): Daemon {
  const script = `mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec "$2" --foreground -c "$3"`;
  // detached: the daemon leads its own process group, so stop() can signal the whole group.
  const child = spawn(unshare, ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', runDir, pcscd, confDir], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  // Should the test process end without calling stop() (crash, timeout), take the daemon down with it.
  const killOnExit = () => signalGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);
  return {
    child,
    output: () => output,
    stop: async () => {
      process.off('exit', killOnExit);
      await killGroup(child, exited);
    },
  };
}

async function findExecutable(name: string): Promise<string> {
  // sbin is often missing from PATH in containers and CI shells, yet that is where pcscd lives.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error(`${name} not found; install it with: ${INSTALL_HINT}`);
}

/** A port P with P + 1 also free: vpcd listens on both (slot 0 and slot 1). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenAndRelease(0);
    if (port < 65535 && (await listenAndRelease(port + 1).then(() => true, () => false))) return port;
  }
  throw new Error('no free pair of adjacent TCP ports for vpcd');
}

function listenAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Ready = the client socket exists and the vpcd driver is listening. The port is checked in
 * /proc/net/tcp rather than by connecting, because a connection to vpcd counts as a card insertion.
 */
async function waitUntilReady(socketPath: string, port: number, child: ChildProcess, output: () => string): Promise<void> {
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`pcscd exited during start-up (${child.exitCode ?? child.signalCode}):\n${output()}`);
      }
      const socketThere = await access(socketPath).then(() => true, () => false);
      return socketThere && (await isListening(port));
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: POLL_MS, what: `pcscd to create ${socketPath} and vpcd to listen on ${port}`, describe: () => `pcscd said:\n${output()}` },
  );
}

async function isListening(port: number): Promise<boolean> {
  const LISTEN = '0A';
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(`:${hexPort}`) && state === LISTEN) return true;
    }
  }
  return false;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

async function killGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  signalGroup(child, 'SIGTERM');
  const grace = new AbortController();
  const stopped = await Promise.race([
    exited.then(() => true),
    delay(5_000, false, { signal: grace.signal }).catch(() => false),
  ]);
  grace.abort();
  if (!stopped) {
    signalGroup(child, 'SIGKILL');
    // SIGKILL cannot be ignored; a deadline anyway, so a stuck teardown names itself.
    await withDeadline(exited, 10_000, 'pcscd to exit after SIGKILL');
  }
}
