import type { ChildProcess } from 'node:child_process';
import { spawnNodeScript } from './node-process.ts';

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
  const { ready, child, kill9, stop } = await spawnNodeScript('device/main.ts', env, /Kiosk \S+: (http:\/\/\S+)/, timeoutMs);
  return { url: ready[1]!, child, kill9, stop };
}
