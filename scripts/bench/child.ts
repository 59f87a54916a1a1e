import { writeFile } from 'node:fs/promises';
import { BENCHES } from './benches.ts';
import { budgetFromEnv } from './budget.ts';

/**
 * Runs one bench in its own process (run.ts starts one per bench): whatever it leaves behind — a hung wait, a
 * hub process, sockets — goes when run.ts ends the process group, so the next bench starts on a quiet machine.
 * Writes `{ rows }` or `{ error }` to BENCH_RESULT_FILE.
 */
const name = process.argv[2] ?? '';
const resultFile = process.env.BENCH_RESULT_FILE;
const bench = BENCHES[name];
if (!bench || !resultFile) {
  console.error(`usage: BENCH_RESULT_FILE=… tsx scripts/bench/child.ts <${Object.keys(BENCHES).join('|')}>`);
  process.exit(2);
}
let result: object;
try {
  result = { rows: await bench(budgetFromEnv(600_000)) };
} catch (error) {
  result = { error: (error as Error).message };
}
await writeFile(resultFile, JSON.stringify(result));
// Stray timers and sockets of a bench that gave up must not keep the process (and the run) waiting.
process.exit(0);
