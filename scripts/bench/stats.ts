/** Latency summaries for benchmark tables: nearest-rank percentiles over the measured samples. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

export function summarize(samplesMs: number[]): Summary {
  if (samplesMs.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const mean = sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length;
  return { n: sorted.length, p50: round(rank(50)), p95: round(rank(95)), max: round(sorted.at(-1)!), mean: round(mean) };
}

export interface BenchRow {
  bench: string;
  metric: string;
  unit: 'ms';
  summary: Summary;
}

export function printTable(rows: BenchRow[]): void {
  const header = ['bench', 'metric', 'n', 'p50', 'p95', 'max', 'mean'];
  const lines = rows.map((row) => [
    row.bench,
    row.metric,
    String(row.summary.n),
    ...[row.summary.p50, row.summary.p95, row.summary.max, row.summary.mean].map((v) => `${v.toFixed(2)} ${row.unit}`),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}
