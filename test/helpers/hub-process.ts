import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeProcess } from './node-process.ts';
import { spawnNodeScript } from './node-process.ts';
import { freePort } from './ports.ts';

export interface HubProcess extends Pick<NodeProcess, 'child' | 'kill9' | 'stop'> {
  /** The REST API's base, e.g. http://127.0.0.1:41234/api/v1. */
  apiUrl: string;
  /** Its embedded broker, e.g. mqtt://127.0.0.1:41235 (devices connect without credentials). */
  mqttUrl: string;
}

/**
 * Runs the hub (`cloud/main.ts`) as its own process on a PostgreSQL database, with its embedded broker on a
 * free port and its data dir (voucher key) under `dataDir`; resolves once it printed its REST URL.
 */
export async function spawnHub(databaseUrl: string, dataDir: string, timeoutMs = 60_000): Promise<HubProcess> {
  const env = {
    DATABASE_URL: databaseUrl,
    HUB_DATA_DIR: dataDir,
    HUB_PORT: String(await freePort()),
    MQTT_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
  const { ready, child, kill9, stop } = await spawnNodeScript('cloud/main.ts', env, /Hub REST API: (http:\/\/\S+\/api\/v1).*MQTT: (mqtt:\/\/\S+)\n/, timeoutMs);
  return { apiUrl: ready[1]!, mqttUrl: ready[2]!, child, kill9, stop };
}

/** A data dir for hub processes, removed with `remove()`. */
export async function hubDataDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'member-kiosk-hub-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
