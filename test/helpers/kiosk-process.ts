import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface KioskProcess {
  url: string;
  child: ChildProcess;
  /** Ends the kiosk the hard way, as a power cut or kill -9 would. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs `device/main.ts` as its own process (the way a kiosk really runs) and resolves once it printed
 * its page URL. `env` holds the kiosk's configuration variables.
 */
export async function spawnKiosk(env: Record<string, string>, timeoutMs = 20_000): Promise<KioskProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'device/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiosk did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
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
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { url, child, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
