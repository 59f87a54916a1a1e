import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface KioskProcess {
  url: string;
  child: ChildProcess;
  /** Ends the kiosk the hard way, as a power cut or kill -9 would. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Starting device/main.ts (tsx compiling it, opening the store, pcscd, the validator) on a busy machine. */
export const KIOSK_START_DEADLINE_MS = 60_000;

/**
 * Runs `device/main.ts` as its own process (the way a kiosk really runs) and resolves once it printed
 * its page URL. `env` holds the kiosk's configuration variables.
 */
export async function spawnKiosk(env: Record<string, string>, timeoutMs = KIOSK_START_DEADLINE_MS): Promise<KioskProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'device/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kiosk did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Kiosk \S+: (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kiosk exited with ${code} before starting:\n${output}`));
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const end = async (signal: NodeJS.Signals) => {
    if (running()) child.kill(signal);
    // A kiosk that does not finish its clean shutdown in time is killed: a test's teardown never hangs on it.
    const killed = setTimeout(() => running() && child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killed);
  };
  return { url, child, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
