import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import { doneWithin, reachedNote, type Budget } from './budget.ts';
import { microsEach, ownCpuMs, postgresCpuMs, postmasterPidOf } from './cpu.ts';
import { analyzeBenchDatabase, benchDatabaseUrl, startHubProcess, durationRow, p99, perSecond, type HubProcess } from './fleet-hub.ts';
import { noteRow, singleValueRow, summarize, type BenchRow } from './stats.ts';

const BENCH = 'fleet ingest (hub process, 1,000 sim kiosks)';
/** The metric of the hub's ingest rate row, which run.ts sets beside pgbench's TPS on the same server. */
export const HUB_INGEST_RATE_METRIC = 'hub ingest rate: transactions acknowledged after commit per second (burst)';
/** The metric of the raw burst's CPU row, which run.ts uses for what this machine can ingest at best. */
export const RAW_MESSAGE_CPU_METRIC = 'raw broker: CPU per QoS 1 message, broker (hub process) + simulated kiosks';
/**
 * Unmeasured top-ups for at least this long first. A new hub process reaches its steady speed only after seconds
 * (card lookups: p50 1.2 ms in its first half second, 0.3 ms from 3 s on, see card-lookup.ts).
 */
const HUB_WARM_UP_MS = 5_000;
/** Kept for stopping the kiosks and the hub when the budget runs out. */
const TEARDOWN_RESERVE_MS = 10_000;

/**
 * Members enough that no two kiosks share one over the burst and the steady window (startFleet's ownMembers): a
 * store's kiosk serves its own customers, so a member's change is not news to the other 999 kiosks.
 */
const MEMBERS = 20_000;

/**
 * The broker's raw QoS 1 rate next to the hub's transaction rate, measured the same way from the same
 * 1,000 connected kiosks: a burst of `perKiosk` messages each, timed from the first publish to the last
 * acknowledgement. Raw: the same transaction JSON to a topic outside the device contract (no subscriber),
 * done at the broker's PUBACK. Hub: to the kiosk's tx topic, done at the hub's tx/ack (after the commit).
 * Then kiosk → ack latency at a steady 500 tx/s (the mark), the load spread evenly over the window.
 */
export async function benchFleetIngest(budget: Budget, kiosks = 1000, perKiosk = 10, steadyTxPerSecond = 500, steadySeconds = 10): Promise<BenchRow[]> {
  const hub = await startHubProcess(MEMBERS);
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({ url: hub.mqttUrl, count: kiosks, deviceIdPrefix: 'bench-ingest', members: hub.members, connectBatch: 200, ownMembers: true });
    const total = kiosks * perKiosk;

    // Top-ups first, not measured, one per kiosk at a time, for at least HUB_WARM_UP_MS: the hub's first batches
    // prepare their statements and V8 compiles its hot paths, as pgbench's reference runs on a server that pgbench -i
    // has just warmed. The raw broker burst below publishes a copy of the first transaction.
    const warmUpStart = performance.now();
    do {
      for (const kiosk of fleet.kiosks) kiosk.topUp(500);
      const warmUpMs = budget.remainingMs() - TEARDOWN_RESERVE_MS;
      if (!(await doneWithin(fleet.drained(warmUpMs), warmUpMs))) break;
    } while (performance.now() - warmUpStart < HUB_WARM_UP_MS);
    await analyzeBenchDatabase();
    for (const kiosk of fleet.kiosks) kiosk.latenciesMs.splice(0);

    const rawLatencies: number[] = [];
    const rawCpuBefore = await cpuNow(hub, undefined);
    const rawStart = performance.now();
    await Promise.all(
      fleet.kiosks.flatMap((kiosk) =>
        Array.from({ length: perKiosk }, async (_, i) => {
          const sent = performance.now();
          const payload = JSON.stringify({ ...kiosk.transactions[0], seq: i + 1 });
          await kiosk.client.publishAsync(`mk/v1/bench/${kiosk.deviceId}/sink`, payload, { qos: 1 });
          rawLatencies.push(performance.now() - sent);
        }),
      ),
    );
    const rawMs = performance.now() - rawStart;
    const rawCpuAfter = await cpuNow(hub, undefined);
    const rawCpu = microsEach(rawCpuAfter.hubMs - rawCpuBefore.hubMs + rawCpuAfter.kiosksMs - rawCpuBefore.kiosksMs, total);

    const databaseUrl = benchDatabaseUrl();
    const postmaster = databaseUrl ? await postmasterPidOf(databaseUrl) : undefined;
    const cpuBefore = await cpuNow(hub, postmaster);
    const hubStart = performance.now();
    for (let i = 0; i < perKiosk; i++) for (const kiosk of fleet.kiosks) kiosk.topUp(1000);
    const drainMs = budget.remainingMs() - TEARDOWN_RESERVE_MS;
    const drained = await doneWithin(fleet.drained(drainMs), drainMs);
    const hubMs = performance.now() - hubStart;
    const cpuAfter = await cpuNow(hub, postmaster);
    const burstLatencies = fleet.kiosks.flatMap((kiosk) => kiosk.latenciesMs.splice(0));
    const raw = [
      { bench: BENCH, metric: `raw broker: QoS 1 publish → PUBACK, burst of ${total} (${perSecond(total, rawMs)} msg/s, p99 ${p99(rawLatencies)} ms)`, unit: 'ms', summary: summarize(rawLatencies) },
      durationRow(BENCH, `raw broker: burst of ${total} QoS 1 publishes, first publish → last PUBACK`, rawMs),
      singleValueRow(BENCH, RAW_MESSAGE_CPU_METRIC, 'µs', rawCpu),
    ] satisfies BenchRow[];
    if (!drained) {
      const acked = burstLatencies.length;
      return [...raw, noteRow(BENCH, `hub: burst of ${total} transactions, first publish → last ack`, `${reachedNote(acked, total, 'acks', budget)} (${perSecond(acked, hubMs)} tx/s)`)];
    }
    const rows: BenchRow[] = [
      ...raw,
      { bench: BENCH, metric: `hub: tx publish → tx/ack after commit, burst of ${total} (p99 ${p99(burstLatencies)} ms)`, unit: 'ms', summary: summarize(burstLatencies) },
      durationRow(BENCH, `hub: burst of ${total} transactions, first publish → last ack`, hubMs),
      singleValueRow(BENCH, HUB_INGEST_RATE_METRIC, '/s', (total * 1000) / hubMs),
      ...cpuRows(cpuBefore, cpuAfter, total),
    ];

    // Steady load: one transaction from the next kiosk in turn, spread evenly over the window.
    const steady = steadyTxPerSecond * steadySeconds;
    const metric = `hub: kiosk → ack at a steady ${steadyTxPerSecond} tx/s`;
    if (budget.remainingMs() < steadySeconds * 1000 + 2 * TEARDOWN_RESERVE_MS) {
      return [...rows, noteRow(BENCH, metric, `no time left in the ${Math.round(budget.ms / 1000)} s budget`)];
    }
    // Every millisecond or so, what is due by then: timers are too coarse to wait 2 ms between single publishes.
    const steadyStart = performance.now();
    for (let sent = 0; sent < steady; await delay(1)) {
      const due = Math.min(steady, 1 + Math.floor(((performance.now() - steadyStart) * steadyTxPerSecond) / 1000));
      for (; sent < due; sent++) fleet.kiosks[sent % kiosks]!.topUp(2000);
    }
    const steadyDrainMs = budget.remainingMs() - TEARDOWN_RESERVE_MS;
    await doneWithin(fleet.drained(steadyDrainMs), steadyDrainMs);
    const steadyLatencies = fleet.kiosks.flatMap((kiosk) => kiosk.latenciesMs);
    if (steadyLatencies.length < steady) return [...rows, noteRow(BENCH, metric, reachedNote(steadyLatencies.length, steady, 'acks', budget))];
    return [...rows, { bench: BENCH, metric: `${metric} (p99 ${p99(steadyLatencies)} ms)`, unit: 'ms', summary: summarize(steadyLatencies) }];
  } finally {
    await fleet?.stop();
    await hub.stop();
  }
}

interface CpuNow {
  hubMs: number;
  postgresMs?: number;
  kiosksMs: number;
}

async function cpuNow(hub: HubProcess, postmaster: number | undefined): Promise<CpuNow> {
  return {
    hubMs: (await hub.usage()).cpuMs,
    ...(postmaster === undefined ? {} : { postgresMs: await postgresCpuMs(postmaster) }),
    kiosksMs: ownCpuMs(),
  };
}

/**
 * CPU per transaction of each process over the burst, and what this machine could ingest at that cost: hub,
 * database and simulated kiosks share its cores (pgbench's rows give the same for the reference).
 */
function cpuRows(before: CpuNow, after: CpuNow, transactions: number): BenchRow[] {
  const each = (ms: number) => microsEach(ms, transactions);
  const hub = each(after.hubMs - before.hubMs);
  const postgres = after.postgresMs === undefined ? undefined : each(after.postgresMs - before.postgresMs!);
  const kiosks = each(after.kiosksMs - before.kiosksMs);
  const total = hub + (postgres ?? 0) + kiosks;
  const cores = availableParallelism();
  const ceiling = Math.round((cores * 1e6) / total);
  return [
    singleValueRow(BENCH, `CPU per transaction in the burst: hub process${postgres === undefined ? ' (with PGlite in it)' : ''}`, 'µs', hub),
    ...(postgres === undefined ? [] : [singleValueRow(BENCH, 'CPU per transaction in the burst: PostgreSQL server (all its processes)', 'µs', postgres)]),
    singleValueRow(BENCH, 'CPU per transaction in the burst: simulated kiosks (the bench process)', 'µs', kiosks),
    singleValueRow(BENCH, `CPU per transaction in the burst: all of them (at that cost ${cores} cores allow at most ${ceiling} tx/s)`, 'µs', total),
  ];
}
