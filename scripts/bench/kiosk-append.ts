import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { newId } from '../../shared/ids.ts';
import { createLogger } from '../../shared/logger.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { kioskStoreFiles } from '../../device/store/store-files.ts';
import { megabytes } from './fleet-hub.ts';
import { summarize, type BenchRow } from './stats.ts';

const BENCH = 'kiosk-append';
const CACHE_SIZES = [0, 10_000, 100_000];
const SAMPLES = 200;
const WARM_UP = 10;
const STARTS = 5;

function benchMember(i: number): MemberSnapshot {
  return {
    memberId: newId(),
    displayName: `压测 Bench ${i}`,
    tier: 'standard',
    cardUid: `04${i.toString(16).toUpperCase().padStart(12, '0')}`,
    cardNumber: `6200${String(i).padStart(12, '0')}`,
    balances: { principalFen: 5000, bonusFen: 0, points: 30 },
    version: 1,
    asOf: new Date().toISOString(),
  };
}

/**
 * A cash top-up's durable write (recordCashTopUp: outbox entry + bill counter, one journal append + fdatasync)
 * next to a raw write + fsync of as many bytes to a file in the same directory, interleaved, at 0, 10,000 and
 * 100,000 cached members; then the start of a store with 100,000 cached members in a fresh process, whose RSS
 * is the store's and Node's alone. The target: the ratio stays near 1 whatever the cache size.
 */
export async function benchKioskAppend(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mk-bench-kstore-'));
  const file = join(dir, 'kiosk.json');
  const logger = createLogger('kiosk-store', { level: 'warn' });
  const rows: BenchRow[] = [];
  try {
    const store = await KioskStore.open(file, { logger });
    let cached = 0;
    for (const size of CACHE_SIZES) {
      for (; cached < size; cached++) await store.cacheMember(benchMember(cached));
      rows.push(...(await measureTopUps(store, file, size)));
    }
    await store.close();
    rows.push(await measureStarts(file, benchMember(CACHE_SIZES.at(-1)! - 1).cardUid));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

async function measureTopUps(store: KioskStore, file: string, cachedMembers: number): Promise<BenchRow[]> {
  const journal = kioskStoreFiles(file).journal;
  const raw = await open(join(file, '..', 'raw-append.bin'), 'w');
  const member = benchMember(0);
  const topUpMs: number[] = [];
  const rawMs: number[] = [];
  let rawLength = 0;
  let recordBytes = 0;
  try {
    const rawWrite = async (length: number): Promise<number> => {
      const bytes = Buffer.alloc(length, 0x61);
      const started = performance.now();
      await raw.write(bytes, 0, bytes.length, rawLength);
      await raw.sync();
      rawLength += bytes.length;
      return performance.now() - started;
    };
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      // Alternating which goes first, so neither always runs right after the other's fsync.
      const rawFirst = i % 2 === 1 ? await rawWrite(recordBytes) : undefined;
      const before = (await stat(journal)).size;
      const started = performance.now();
      await store.recordCashTopUp({ deviceId: 'bench-kiosk', member, amountFen: 10_000, billEventCounter: i % 256 });
      const topUp = performance.now() - started;
      recordBytes = (await stat(journal)).size - before;
      const rawMsNow = rawFirst ?? (await rawWrite(recordBytes));
      if (i >= WARM_UP) {
        topUpMs.push(topUp);
        rawMs.push(rawMsNow);
      }
    }
  } finally {
    await raw.close();
  }
  const topUp = summarize(topUpMs);
  const baseline = summarize(rawMs);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const cache = cachedMembers.toLocaleString('en-US');
  return [
    {
      bench: BENCH,
      metric: `recordCashTopUp, ${cache} cached members (${recordBytes} B record; ×${ratio(topUp.p50, baseline.p50)} p50, ×${ratio(topUp.mean, baseline.mean)} mean of raw)`,
      unit: 'ms',
      summary: topUp,
    },
    { bench: BENCH, metric: `raw write + fsync of ${recordBytes} B, same directory, interleaved`, unit: 'ms', summary: baseline },
  ];
}

/** Opens the store in a fresh Node process (tsx loaded, as the kiosk runs) and reports its open time and RSS. */
const START_SCRIPT = `
  const { performance } = await import('node:perf_hooks');
  const { createLogger } = await import(process.env.LOGGER_MODULE);
  const { KioskStore } = await import(process.env.STORE_MODULE);
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const store = await KioskStore.open(process.env.STORE_FILE, { logger: createLogger('kiosk-store', { level: 'warn' }) });
  const openMs = performance.now() - started;
  if (!store.cachedMember(process.env.PROBE_CARD)) throw new Error('the probe member is not cached');
  console.log(JSON.stringify({ openMs, rssBefore, rssBytes: process.memoryUsage().rss }));
`;

async function measureStarts(file: string, probeCard: string): Promise<BenchRow> {
  const openMs: number[] = [];
  const rssBytes: number[] = [];
  const rssBefore: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', START_SCRIPT], {
      env: {
        ...process.env,
        LOGGER_MODULE: new URL('../../shared/logger.ts', import.meta.url).href,
        STORE_MODULE: new URL('../../device/store/kiosk-store.ts', import.meta.url).href,
        STORE_FILE: file,
        PROBE_CARD: probeCard,
      },
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { openMs: number; rssBefore: number; rssBytes: number };
    openMs.push(result.openMs);
    rssBytes.push(result.rssBytes);
    rssBefore.push(result.rssBefore);
  }
  const cache = CACHE_SIZES.at(-1)!.toLocaleString('en-US');
  return {
    bench: BENCH,
    metric: `start: KioskStore.open with ${cache} cached members, fresh process (process RSS after open: max ${megabytes(Math.max(...rssBytes))} MB, ${megabytes(Math.max(...rssBefore))} MB before it)`,
    unit: 'ms',
    summary: summarize(openMs),
  };
}
