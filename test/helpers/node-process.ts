import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface NodeProcess {
  /** The first match of the ready pattern in the process's stdout. */
  ready: RegExpExecArray;
  child: ChildProcess;
  /** Ends the process the hard way, as a power cut or kill -9 would. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript entry point (`device/main.ts`, `cloud/main.ts`) as its own Node process, the way it runs in
 * a store or a data centre, and resolves once its stdout matches `ready` (its "I am listening" line). Fails
 * with everything it printed if it exits first or does not get there within `timeoutMs`.
 */
export async function spawnNodeScript(entry: string, env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let output = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const found = ready.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${signal ?? code}) before starting:\n${output}`));
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const end = async (signal: NodeJS.Signals) => {
    if (running()) child.kill(signal);
    // A process that does not finish its clean shutdown in time is killed: a test's teardown never hangs on it.
    const killed = setTimeout(() => running() && child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killed);
  };
  return { ready: match, child, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
