import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { openDatabase } from '../../cloud/db/database.ts';
import { KioskNotices, RulesStore } from '../../cloud/program/index.ts';
import { kioskMemberReader } from '../../cloud/sync/card-lookups.ts';
import { topics } from '../../shared/contract/topics.ts';
import { newId } from '../../shared/ids.ts';
import { createLogger } from '../../shared/logger.ts';
import { tuneMqttSocket } from '../../shared/mqtt-socket.ts';
import { reachedNote, type Budget } from './budget.ts';
import { benchDatabaseUrl, durationRow, p99, startHubProcess } from './fleet-hub.ts';
import { benchMember, seedMembers } from './seed-members.ts';
import { withClient } from './server-client.ts';
import { noteRow, summarize, type BenchRow } from './stats.ts';

const BENCH = 'card lookup (PostgreSQL server)';
/** Kept for stopping the hub and the clients when the budget runs out. */
const TEARDOWN_RESERVE_MS = 10_000;
/**
 * Lookups before the measured ones run for at least this long after the hub process has started: a hub in service
 * has long compiled its hot paths. Measured at 1,000,000 members, lookups one after another from the hub's start:
 * p50 1.2 ms in its first half second, 0.7 ms at 1.5 s, 0.3 ms from 3 s on (p99 6.4 → 4.0 → 0.7–1.6 ms); the same on a
 * second hub started on the same, already warm database, so it is the new process (V8 compiling the lookup path,
 * the driver's and the broker's code), not the database's caches.
 */
const HUB_WARM_UP_MS = 5_000;
/** The same for each reference series, in the bench's own process: its first 50 queries after the seed ran at p99 1.3–1.8 ms, the next series at 0.1 ms. */
const REFERENCE_WARM_UP_MS = 1_500;
/** At most this long for the two references together (2,000 samples of either take a few seconds). */
const REFERENCES_MS = 20_000;

/**
 * A kiosk's card lookup over MQTT (request → hub → one SQL statement → response, TCP_NODELAY on both ends) against
 * `members` members with a card each, p50/p99, next to two references measured on the same PostgreSQL server in the
 * same run: a primary-key SELECT of one member (the floor of any read), and the lookup's own statement sent straight
 * to the server (the database's share of the lookup). The members, their accounts and cards are made by
 * generate_series in SQL (set-based, foreign-key triggers off), not a million REST calls. Needs the bench's
 * PostgreSQL database (run.ts); each series measures up to `samples` lookups of random members, one at a time.
 */
export async function benchCardLookup(budget: Budget, members = Number(process.env.BENCH_LOOKUP_MEMBERS ?? 1_000_000), samples = 2000): Promise<BenchRow[]> {
  const url = benchDatabaseUrl();
  if (!url) return [noteRow(BENCH, 'card lookup over MQTT', 'skipped: needs a PostgreSQL server (none found under /usr/lib/postgresql)')];
  const seedStart = performance.now();
  const db = await openDatabase({ url });
  const rows: BenchRow[] = [];
  try {
    await seedMembers(db, members);
    rows.push(durationRow(BENCH, `seed ${members.toLocaleString('en')} members, their accounts and cards (generate_series) + ANALYZE`, performance.now() - seedStart));
    const randomMember = () => benchMember(1 + Math.floor(Math.random() * members));

    // The lookup over MQTT first: it is what this bench is for; the references after it share what time is left.
    const mqttSamples = await lookupsOverMqtt(samples, budget.remainingMs() - TEARDOWN_RESERVE_MS - REFERENCES_MS, () => randomMember().cardUid);
    rows.push(series('card lookup over MQTT: request → hub → response (one statement, no write)', mqttSamples, samples, budget));

    const pkSelect = { name: 'bench-pk', text: 'SELECT id, name, version FROM members WHERE id = $1' };
    const pk = await withClient(url, (client) => timed(samples, REFERENCES_MS / 2, () => client.query({ ...pkSelect, values: [randomMember().memberId] }), REFERENCE_WARM_UP_MS));
    rows.push(series('reference: primary-key SELECT of one member, prepared, straight to the server', pk, samples, budget));

    const read = kioskMemberReader(db, new KioskNotices({ program: new RulesStore(db), logger: createLogger('bench-lookup'), enabled: true }));
    const direct = await timed(samples, REFERENCES_MS / 2, () => read({ cardUid: randomMember().cardUid }), REFERENCE_WARM_UP_MS);
    rows.push(series('the lookup statement (card, member, balances, tier, notice facts) straight to the server', direct, samples, budget));
    return rows;
  } finally {
    await db.close();
  }
}

/** One row for a latency series, or how far it got. */
function series(metric: string, samples: number[], wanted: number, budget: Budget): BenchRow {
  if (samples.length === 0) return noteRow(BENCH, metric, reachedNote(0, wanted, 'samples', budget));
  const row: BenchRow = { bench: BENCH, metric: `${metric} (p99 ${p99(samples)} ms)`, unit: 'ms', summary: summarize(samples) };
  return samples.length < wanted ? { ...row, note: reachedNote(samples.length, wanted, 'samples', budget) } : row;
}

/**
 * Runs `once` up to `count` times one after another within `ms`, after unmeasured warm-up runs (50, and for at least
 * `warmUpMs`); its latencies.
 */
async function timed(count: number, ms: number, once: () => Promise<unknown>, warmUpMs = 0): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + ms;
  const warm = performance.now() + warmUpMs;
  for (let i = 0; i < 50 || performance.now() < warm; i++) await once();
  while (samples.length < count && performance.now() < end) {
    const start = performance.now();
    await once();
    samples.push(performance.now() - start);
  }
  return samples;
}

/** Card lookups over MQTT from one kiosk to a hub process on the bench's database, as the kiosk's HubLink sends them. */
async function lookupsOverMqtt(count: number, ms: number, nextCard: () => string): Promise<number[]> {
  const start = performance.now();
  const hub = await startHubProcess(0);
  const deviceId = 'bench-lookup-kiosk';
  const client = await mqtt.connectAsync(hub.mqttUrl, { clientId: deviceId, clean: true });
  try {
    tuneMqttSocket(client);
    const waiting = new Map<string, (payload: { status: string; error?: { code: string } }) => void>();
    client.on('message', (_topic, payload) => {
      const response = JSON.parse(payload.toString()) as { correlationId: string; status: string };
      waiting.get(response.correlationId)?.(response);
    });
    await client.subscribeAsync(topics.response(deviceId, 'card.lookup'), { qos: 1 });
    const lookup = async () => {
      const correlationId = newId();
      const answered = new Promise<{ status: string; error?: { code: string } }>((resolve) => waiting.set(correlationId, resolve));
      await client.publishAsync(topics.request(deviceId, 'card.lookup'), JSON.stringify({ v: 1, correlationId, cardUid: nextCard() }), { qos: 1 });
      const response = await answered;
      waiting.delete(correlationId);
      if (response.status !== 'ok') throw new Error(`lookup refused: ${response.error?.code ?? 'unknown'}`);
    };
    // Starting the hub process is part of the time given, not of what is measured; nor are its first seconds, in
    // which its start-up work (jobs, sweeps, the JIT) still runs beside the lookups.
    return await timed(count, ms - (performance.now() - start), lookup, HUB_WARM_UP_MS);
  } finally {
    await client.endAsync();
    await hub.stop();
  }
}
