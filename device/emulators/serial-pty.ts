import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** The end the kiosk opens with serialport, as it would open /dev/ttyUSB0. */
  hostPath: string;
  /** The end the device emulator opens. */
  devicePath: string;
  stop(): Promise<void>;
}

/**
 * A virtual serial cable: two pseudo-terminals joined by socat, so the real `serialport` talks to an
 * emulator through the kernel's tty layer exactly as it would to a USB-serial adapter.
 */
export async function openPtyPair(timeoutMs = 5_000): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'pty-'));
  const hostPath = join(dir, 'host');
  const devicePath = join(dir, 'device');
  // -d -d makes socat announce each pty on stderr ("N PTY is /dev/pts/7"), the ready signal we wait for.
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${devicePath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(child, 'exit');
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socat did not open a pty pair within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run socat (${error.message}); install it with: apt-get install -y socat`));
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/starting data transfer loop/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`socat exited with ${code}:\n${output}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    hostPath,
    devicePath,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
