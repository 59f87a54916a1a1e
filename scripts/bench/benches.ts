import type { Budget } from './budget.ts';
import { benchCardLookup } from './card-lookup.ts';
import { benchCctalkPoll } from './cctalk-poll.ts';
import { benchFleetBacklog } from './fleet-backlog.ts';
import { benchFleetIdle } from './fleet-idle.ts';
import { benchFleetIngest } from './fleet-ingest.ts';
import { benchNfcTap } from './nfc-tap.ts';
import { benchPgbench } from './pgbench.ts';
import { noteRow, type BenchRow } from './stats.ts';

/** Every bench `npm run bench` knows, by the name run.ts and child.ts use. Each gets its budget (budget.ts). */
export const BENCHES: Readonly<Record<string, (budget: Budget) => Promise<BenchRow[]>>> = {
  'nfc-tap': (budget) => benchNfcTap(budget),
  'cctalk-poll': () => benchCctalkPoll(),
  'kiosk-append': () => benchKioskAppend(),
  'fleet-ingest': (budget) => benchFleetIngest(budget),
  'fleet-idle': (budget) => benchFleetIdle(budget),
  // Not budget-aware yet (its own fixed limit); run.ts stops it at its budget and says so.
  'fleet-backlog': () => benchFleetBacklog(),
  pgbench: () => benchPgbench(),
  'card-lookup': (budget) => benchCardLookup(budget),
};

/*
 * LEAD: the kiosk append bench — scripts/bench/kiosk-append.ts, exporting benchKioskAppend(): Promise<BenchRow[]> —
 * is written on another branch. Until it is merged this imports it by a computed path (so the typecheck does not
 * need the file) and reports its absence as a row; once merged, replace this function with a static import.
 */
async function benchKioskAppend(): Promise<BenchRow[]> {
  const file = new URL('./kiosk-append.ts', import.meta.url).href;
  let module: { benchKioskAppend(): Promise<BenchRow[]> };
  try {
    module = (await import(file)) as typeof module;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return [noteRow('kiosk append (durable store)', 'append + fsync per transaction', 'not run: scripts/bench/kiosk-append.ts is not on this branch yet')];
  }
  return module.benchKioskAppend();
}
