import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { TestHub } from '../../test/helpers/hub.ts';
import { freePort } from '../../test/helpers/ports.ts';
import type { FleetMember } from '../../device/emulators/fleet-simulator.ts';
import type { BenchRow, Summary } from './stats.ts';

/** /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space. */
const USER_HZ = 100;

export interface HubUsage {
  rssBytes: number;
  cpuMs: number;
}

export interface HubProcess {
  mqttUrl: string;
  members: FleetMember[];
  /** The hub process's resident memory and its user + system CPU time so far, read from /proc. */
  usage(): Promise<HubUsage>;
  stop(): Promise<void>;
}

/**
 * The hub as its own process (`cloud/main.ts`: embedded Aedes broker, PGlite), so fleet benchmarks
 * measure its memory and CPU apart from the simulated kiosks, and the two do not share one event loop.
 * Members are created beforehand on the same data dir by an in-process hub that is then stopped.
 */
export async function startHubProcess(memberCount: number): Promise<HubProcess> {
  const seed = await TestHub.create();
  await seed.start();
  const members: FleetMember[] = [];
  for (let i = 0; i < memberCount; i++) {
    const member = await seed.member(`压测 Bench ${i}`, `04F${i.toString(16).toUpperCase().padStart(5, '0')}`);
    members.push({ memberId: member.memberId, cardUid: member.cardUid });
  }
  await seed.stop();
  const mqttPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cloud/main.ts'], {
    env: { ...process.env, HUB_DATA_DIR: seed.dataDir, HUB_PORT: '0', MQTT_PORT: String(mqttPort), LOG_LEVEL: 'warn' },
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
    async usage() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const stat = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      const ticks = Number(stat[11]) + Number(stat[12]);
      return { rssBytes: rssKb * 1024, cpuMs: (ticks * 1000) / USER_HZ };
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await seed.cleanup();
    },
  };
}

/** A row for a single measured duration (a drain, a ramp-up), whose rate or size goes in the metric text. */
export function durationRow(bench: string, metric: string, ms: number): BenchRow {
  const rounded = Math.round(ms * 100) / 100;
  const summary: Summary = { n: 1, p50: rounded, p95: rounded, max: rounded, mean: rounded };
  return { bench, metric, unit: 'ms', summary };
}

/** Nearest-rank p99, which stats.ts does not report, for the metric text. */
export function p99(samplesMs: number[]): number {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]! * 100) / 100;
}

export const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);
export const megabytes = (bytes: number) => Math.round(bytes / 1024 / 1024);
