import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { SimulatedKiosk } from '../../device/emulators/fleet-simulator.ts';
import { doneWithin, reachedNote, type Budget } from './budget.ts';
import { startHubProcess, durationRow, megabytes, perSecond, type HubProcess } from './fleet-hub.ts';
import { noteRow, type BenchRow } from './stats.ts';

const BENCH = 'fleet idle (hub process)';
/** Kept for stopping the kiosks and the hub when the budget runs out. */
const TEARDOWN_RESERVE_MS = 15_000;

/**
 * `kiosks` simulated kiosks of a fleet in service (credentials issued, configuration set: a hub restart) log in with
 * their own device credentials (the broker checks each against the hub database, as in production) and stay idle
 * (MQTT keepalive only). Measured on the hub process from /proc: the
 * ramp-up's connects per second, resident memory before and after, and CPU over an idle window. Every connection
 * is one socket on each side, so both processes need `kiosks` + a few hundred file descriptors; the bench checks
 * the limit first instead of failing half-way.
 */
export async function benchFleetIdle(budget: Budget, kiosks = 10_000, idleSeconds = 10, connectBatch = 250): Promise<BenchRow[]> {
  await assertOpenFilesLimit(kiosks + 500);
  const deviceIds = Array.from({ length: kiosks }, (_, i) => `bench-idle-${i + 1}`);
  const hub = await startHubProcess(1, { deviceIds });
  const fleet: SimulatedKiosk[] = [];
  try {
    const before = await hub.usage();
    const rampStart = performance.now();
    const connected = await rampUp(hub, deviceIds, connectBatch, fleet, budget);
    const rampMs = performance.now() - rampStart;
    if (connected < kiosks) {
      return [noteRow(BENCH, `ramp-up: ${kiosks} kiosks, each logging in with its own credentials`, `${reachedNote(connected, kiosks, 'connected', budget)} (${perSecond(connected, rampMs)} connects/s)`)];
    }
    const rows = [durationRow(BENCH, `ramp-up: ${kiosks} kiosks logging in with their own credentials, batches of ${connectBatch} (${perSecond(kiosks, rampMs)} connects/s)`, rampMs)];
    if (budget.remainingMs() < (idleSeconds + 2) * 1000 + TEARDOWN_RESERVE_MS) {
      return [...rows, noteRow(BENCH, `${kiosks} idle: hub memory and CPU`, `no time left in the ${Math.round(budget.ms / 1000)} s budget for the ${idleSeconds} s idle window`)];
    }
    // Let the hub finish with the "online" status messages the ramp-up produced before the idle window.
    await delay(2_000);
    const idleStart = await hub.usage();
    await delay(idleSeconds * 1000);
    const idleEnd = await hub.usage();
    const idleCpuPercent = Math.round(((idleEnd.cpuMs - idleStart.cpuMs) / (idleSeconds * 1000)) * 1000) / 10;
    const perKioskKb = Math.round((idleEnd.rssBytes - before.rssBytes) / kiosks / 102.4) / 10;
    rows.push(
      durationRow(
        BENCH,
        `${kiosks} idle: hub RSS ${megabytes(before.rssBytes)} → ${megabytes(idleEnd.rssBytes)} MB (${perKioskKb} KB/kiosk), hub CPU ${idleCpuPercent}% of a core over the ${idleSeconds} s window`,
        idleSeconds * 1000,
      ),
    );
    return rows;
  } finally {
    await Promise.all(fleet.map((kiosk) => kiosk.stop()));
    await hub.stop();
  }
}

/**
 * Connects the kiosks `batch` at a time, each batch once the previous one is connected (so the broker's accept
 * queue is not hit all at once), until all are connected or the budget (less the teardown reserve) is spent.
 * Each kiosk's credentials ride in its URL (mqtt.js reads user:password from it). Returns how many connected.
 */
async function rampUp(hub: HubProcess, deviceIds: readonly string[], batch: number, fleet: SimulatedKiosk[], budget: Budget): Promise<number> {
  const { host } = new URL(hub.mqttUrl);
  const connectedCount = () => fleet.reduce((n, kiosk) => n + (kiosk.connected ? 1 : 0), 0);
  for (let first = 0; first < deviceIds.length && budget.remainingMs() > TEARDOWN_RESERVE_MS; first += batch) {
    const started = deviceIds.slice(first, first + batch).map((deviceId) => {
      const url = `mqtt://${deviceId}:${hub.passwords.get(deviceId)!}@${host}`;
      return new SimulatedKiosk({ url, deviceId, members: hub.members });
    });
    fleet.push(...started);
    const allConnected = Promise.all(started.map((kiosk) => (kiosk.connected ? undefined : new Promise((resolve) => kiosk.client.once('connect', resolve)))));
    if (!(await doneWithin(allConnected, budget.remainingMs() - TEARDOWN_RESERVE_MS))) break;
  }
  return connectedCount();
}

/** The soft limit this process (and the hub it spawns, which inherits it) has on open files. */
async function assertOpenFilesLimit(needed: number): Promise<void> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Infinity);
  if (soft < needed) {
    throw new Error(`fleet idle needs ${needed} open files per process but the limit is ${soft}; run \`ulimit -n ${needed}\` (or higher) before npm run bench`);
  }
}
