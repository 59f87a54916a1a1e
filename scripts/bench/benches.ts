import type { Budget } from './budget.ts';
import { benchCardLookup } from './card-lookup.ts';
import { benchCctalkPoll } from './cctalk-poll.ts';
import { benchFleetBacklog } from './fleet-backlog.ts';
import { benchFleetIdle } from './fleet-idle.ts';
import { benchFleetIngest } from './fleet-ingest.ts';
import { benchKioskAppend } from './kiosk-append.ts';
import { benchNfcTap } from './nfc-tap.ts';
import { benchPgbench } from './pgbench.ts';
import type { BenchRow } from './stats.ts';

/** Every bench `npm run bench` knows, by the name run.ts and child.ts use. Each gets its budget (budget.ts). */
export const BENCHES: Readonly<Record<string, (budget: Budget) => Promise<BenchRow[]>>> = {
  'nfc-tap': (budget) => benchNfcTap(budget),
  'cctalk-poll': () => benchCctalkPoll(),
  'kiosk-append': () => benchKioskAppend(),
  'fleet-ingest': (budget) => benchFleetIngest(budget),
  'fleet-idle': (budget) => benchFleetIdle(budget),
  'fleet-backlog': (budget) => benchFleetBacklog(budget),
  pgbench: () => benchPgbench(),
  'card-lookup': (budget) => benchCardLookup(budget),
};
