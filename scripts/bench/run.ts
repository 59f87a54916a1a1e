import { mkdir, writeFile } from 'node:fs/promises';
import { arch, cpus, totalmem } from 'node:os';
import { benchNfcTap } from './nfc-tap.ts';
import { benchCctalkPoll } from './cctalk-poll.ts';
import { benchFleetIngest } from './fleet-ingest.ts';
import { benchFleetIdle } from './fleet-idle.ts';
import { benchFleetBacklog } from './fleet-backlog.ts';
import { printTable, type BenchRow } from './stats.ts';

/** `npm run bench`: runs every benchmark, prints one table and writes bench-results/latest.json. */
const benches: Array<{ name: string; run: () => Promise<BenchRow[]> }> = [
  { name: 'nfc-tap', run: () => benchNfcTap() },
  { name: 'cctalk-poll', run: () => benchCctalkPoll() },
  { name: 'fleet-ingest', run: () => benchFleetIngest() },
  { name: 'fleet-idle', run: () => benchFleetIdle() },
  { name: 'fleet-backlog', run: () => benchFleetBacklog() },
];

const rows: BenchRow[] = [];
for (const bench of benches) {
  process.stderr.write(`running ${bench.name}…\n`);
  rows.push(...(await bench.run()));
}
printTable(rows);
const machine = { node: process.version, arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem() };
await mkdir('bench-results', { recursive: true });
await writeFile('bench-results/latest.json', JSON.stringify({ at: new Date().toISOString(), machine, rows }, null, 2));
console.log('\nwritten: bench-results/latest.json');
