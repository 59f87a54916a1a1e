import { performance } from 'node:perf_hooks';
import { SimulatedKiosk } from '../../device/emulators/fleet-simulator.ts';
import { doneWithin, reachedNote, type Budget } from './budget.ts';
import { startHubProcess, durationRow, p99, perSecond } from './fleet-hub.ts';
import { noteRow, type BenchRow } from './stats.ts';

const BENCH = 'fleet offline backlog (hub process)';
/** Kept for stopping the kiosk and the hub when the budget runs out. */
const TEARDOWN_RESERVE_MS = 10_000;

/**
 * One kiosk comes back after a long outage with `backlog` transactions in its outbox: the time from its
 * connect to the hub's last ack, i.e. how long a store's offline day takes to reach the ledger, streamed with
 * the kiosk's own resend policy (device/sync/resend-schedule.ts). Also reported: how many publishes were
 * resends, and how many of those came before the transaction's ack was overdue (the policy says none).
 * The kiosk's top-ups go round `members` members, as a busy store's offline day would.
 * When the budget runs out first, the row says how many acks it reached and at what rate.
 */
export async function benchFleetBacklog(budget: Budget, backlog = 10_000, members = 2_000): Promise<BenchRow[]> {
  const hub = await startHubProcess(members);
  let kiosk: SimulatedKiosk | undefined;
  try {
    const start = performance.now();
    kiosk = new SimulatedKiosk({ url: hub.mqttUrl, deviceId: 'bench-backlog-1', members: hub.members });
    // Connecting is asynchronous, so all of these are queued offline and stream out from the connect on.
    for (let i = 0; i < backlog; i++) kiosk.topUp(100 + (i % 100) * 100);
    const drainMs = budget.remainingMs() - TEARDOWN_RESERVE_MS;
    const drained = await doneWithin(kiosk.drained(drainMs), drainMs);
    const ms = performance.now() - start;
    const acked = kiosk.latenciesMs.length;
    const resends = `${kiosk.publishes - Math.min(kiosk.publishes, backlog)} resends, ${kiosk.duplicatePublishes} before the ack was overdue`;
    const metric = `${backlog} queued tx, connect → last ack`;
    if (!drained) return [noteRow(BENCH, metric, `${reachedNote(acked, backlog, 'acks', budget)} (${perSecond(acked, ms)} tx/s, ${resends})`)];
    return [durationRow(BENCH, `${metric} (${perSecond(backlog, ms)} tx/s, per-tx p99 ${p99(kiosk.latenciesMs)} ms, ${resends})`, ms)];
  } finally {
    await kiosk?.stop();
    await hub.stop();
  }
}
