/** Latency summaries for benchmark tables: nearest-rank percentiles over the measured samples. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const round = (value: number) => Math.round(value * 100) / 100;

export function summarize(samplesMs: number[]): Summary {
  if (samplesMs.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const mean = sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length;
  return { n: sorted.length, p50: round(rank(50)), p95: round(rank(95)), p99: round(rank(99)), max: round(sorted.at(-1)!), mean: round(mean) };
}

export interface BenchRow {
  bench: string;
  metric: string;
  /** ms for latencies and durations; /s for a rate, µs for CPU time per transaction (its one value in every column). */
  unit: 'ms' | '/s' | 'µs';
  /** Absent when nothing was measured: `note` then says why (a bench that failed or ran out of its budget). */
  summary?: Summary;
  /** What the numbers do not say: how far a bench got in its budget, or the error that stopped it. */
  note?: string;
}

/** A row with one value (a duration, a rate), whose rate or size may go in the metric text. */
export function singleValueRow(bench: string, metric: string, unit: BenchRow['unit'], value: number): BenchRow {
  const v = round(value);
  return { bench, metric, unit, summary: { n: 1, p50: v, p95: v, p99: v, max: v, mean: v } };
}

/** A row that measured nothing and says why. */
export function noteRow(bench: string, metric: string, note: string): BenchRow {
  return { bench, metric, unit: 'ms', note };
}

export function printTable(rows: BenchRow[]): void {
  const header = ['bench', 'metric', 'n', 'p50', 'p95', 'p99', 'max', 'mean'];
  const lines = rows.map((row) => {
    const { summary } = row;
    const numbers = summary
      ? [String(summary.n), ...[summary.p50, summary.p95, summary.p99, summary.max, summary.mean].map((v) => `${v.toFixed(2)} ${row.unit}`)]
      : ['-', '-', '-', '-', '-', '-'];
    return [row.bench, row.note ? `${row.metric} — ${row.note}` : row.metric, ...numbers];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}
