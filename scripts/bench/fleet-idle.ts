import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import { startHubProcess, durationRow, megabytes } from './fleet-hub.ts';
import type { BenchRow } from './stats.ts';

const BENCH = 'fleet idle (hub process)';

/**
 * `kiosks` simulated kiosks connected and idle (MQTT keepalive only), measured on the hub process from
 * /proc: resident memory before and after the ramp-up, and CPU over an idle window. Every connection is
 * one socket on each side, so both processes need `kiosks` + a few hundred file descriptors; the bench
 * checks the limit first instead of failing half-way.
 */
export async function benchFleetIdle(kiosks = 10_000, idleSeconds = 10, connectBatch = 250): Promise<BenchRow[]> {
  await assertOpenFilesLimit(kiosks + 500);
  const hub = await startHubProcess(1);
  let fleet: Fleet | undefined;
  try {
    const before = await hub.usage();
    const rampStart = performance.now();
    fleet = await startFleet({ url: hub.mqttUrl, count: kiosks, deviceIdPrefix: 'bench-idle', members: hub.members, connectBatch });
    const rampMs = performance.now() - rampStart;
    // Let the hub finish with the "online" status messages the ramp-up produced before the idle window.
    await delay(2_000);
    const idleStart = await hub.usage();
    await delay(idleSeconds * 1000);
    const idleEnd = await hub.usage();
    const idleCpuPercent = Math.round(((idleEnd.cpuMs - idleStart.cpuMs) / (idleSeconds * 1000)) * 1000) / 10;
    const perKioskKb = Math.round((idleEnd.rssBytes - before.rssBytes) / kiosks / 102.4) / 10;
    return [
      durationRow(BENCH, `ramp-up: ${kiosks} kiosks connected in batches of ${connectBatch}`, rampMs),
      durationRow(
        BENCH,
        `${kiosks} idle: hub RSS ${megabytes(before.rssBytes)} → ${megabytes(idleEnd.rssBytes)} MB (${perKioskKb} KB/kiosk), hub CPU ${idleCpuPercent}% of a core over the ${idleSeconds} s window`,
        idleSeconds * 1000,
      ),
    ];
  } finally {
    await fleet?.stop();
    await hub.stop();
  }
}

/** The soft limit this process (and the hub it spawns, which inherits it) has on open files. */
async function assertOpenFilesLimit(needed: number): Promise<void> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Infinity);
  if (soft < needed) {
    throw new Error(`fleet idle needs ${needed} open files per process but the limit is ${soft}; run \`ulimit -n ${needed}\` (or higher) before npm run bench`);
  }
}
