import type { EnvReader } from '../../shared/config-env.ts';

/** How often the hub runs its scheduled jobs unless HUB_JOBS_INTERVAL_MS says otherwise. */
export const DEFAULT_JOBS_INTERVAL_MS = 3_600_000;

/**
 * 1 s to 2^31 − 1 ms (~24.8 days): below a second the jobs would only keep the database busy, and setTimeout
 * fires at once for a delay above 2^31 − 1.
 */
export const INTERVAL_RANGE = 'a whole number of milliseconds from 1000 to 2147483647';
export const INTERVAL_RANGE_ZH = '1000 至 2147483647 之间的整数毫秒';

export function isValidInterval(intervalMs: number): boolean {
  return Number.isSafeInteger(intervalMs) && intervalMs >= 1_000 && intervalMs <= 2_147_483_647;
}

/** HUB_JOBS_INTERVAL_MS (default hourly); a bad value is added to the reader's problems. */
export function jobsIntervalMsFromEnv(read: EnvReader): number {
  const raw = read.optional('HUB_JOBS_INTERVAL_MS');
  if (raw === undefined) return DEFAULT_JOBS_INTERVAL_MS;
  const intervalMs = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (isValidInterval(intervalMs)) return intervalMs;
  read.problems.push(`HUB_JOBS_INTERVAL_MS must be ${INTERVAL_RANGE}, got "${raw}"`);
  return DEFAULT_JOBS_INTERVAL_MS;
}
