import type { Logger } from '../../shared/logger.ts';
import { kernelErrors } from './errors.ts';
import { INTERVAL_RANGE, INTERVAL_RANGE_ZH, isValidInterval } from './interval.ts';

/**
 * A small in-process scheduler for the hub's periodic jobs. Every `intervalMs` it runs each job once, one
 * after another (the jobs share one database; running them side by side would only make them slower). A job
 * never runs twice at once in this process: asking for a job that is already running joins that run and gets
 * its report. A failed run is logged and reported, and the next job and the next tick go ahead as usual.
 *
 * The next tick is armed when the previous one has finished, so a run longer than the interval delays the
 * following one instead of piling up behind it. The first tick comes one interval after the start: a hub that
 * starts runs no jobs until then (an operator who needs them at once calls the job's REST route).
 */

export interface JobContext {
  /** The instant the run works as of: what has ended at or before it is due. */
  readonly asOf: Date;
  /** For the job's own progress lines; every line carries the job's name. */
  readonly logger: Logger;
}

export interface ScheduledJob {
  readonly name: string;
  /** One run; resolves with its counts (logged and reported). Must be idempotent: re-runs happen. */
  run(context: JobContext): Promise<object>;
}

/** Runs fn only while holding the job's lock; `acquired: false` when someone else holds it (fn not run). */
export type JobLock = <T>(jobName: string, fn: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;

/** No cross-process lock: the in-process single-flight guard is all there is. */
export const runUnlocked: JobLock = async (_jobName, fn) => ({ acquired: true, value: await fn() });

interface RunBase {
  readonly job: string;
  readonly asOf: string;
  readonly durationMs: number;
}

export type JobRun =
  | (RunBase & { readonly status: 'done'; readonly result: object })
  /** Another hub held the job's lock and is doing this work. */
  | (RunBase & { readonly status: 'skipped' })
  | (RunBase & { readonly status: 'failed'; readonly error: string });

export interface SchedulerReport {
  /** One entry per job asked for, in the order they ran; fewer when the scheduler was stopped meanwhile. */
  readonly runs: JobRun[];
}

export interface Scheduler {
  /** Runs one job by name, or every job in order; resolves when they have finished (failed runs included). */
  runNow(name?: string): Promise<SchedulerReport>;
  /** No further ticks or runs; resolves once the runs under way have finished. */
  stop(): Promise<void>;
}

export interface SchedulerOptions {
  readonly jobs: readonly ScheduledJob[];
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly lock?: JobLock;
  /** The clock giving each run its asOf (tests pin it). */
  readonly now?: () => Date;
}

export function startScheduler({ jobs, logger, intervalMs, lock = runUnlocked, now = () => new Date() }: SchedulerOptions): Scheduler {
  if (!isValidInterval(intervalMs)) {
    throw kernelErrors.INVALID_INPUT({ zh: `任务间隔须为 ${INTERVAL_RANGE_ZH}，收到 ${String(intervalMs)}`, en: `The job interval must be ${INTERVAL_RANGE}, got ${String(intervalMs)}` });
  }
  const running = new Map<string, Promise<JobRun>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let tick: Promise<unknown> | undefined;

  async function execute(job: ScheduledJob): Promise<JobRun> {
    const asOf = now();
    const started = performance.now();
    const base = () => ({ job: job.name, asOf: asOf.toISOString(), durationMs: Math.round(performance.now() - started) });
    try {
      const outcome = await lock(job.name, () => job.run({ asOf, logger: logger.child({ job: job.name }) }));
      const fields = base();
      if (!outcome.acquired) {
        logger.info({ ...fields, status: 'skipped' }, 'scheduled job skipped: another hub is running it');
        return { ...fields, status: 'skipped' };
      }
      logger.info({ ...outcome.value, ...fields, status: 'done' }, 'scheduled job done');
      return { ...fields, status: 'done', result: outcome.value };
    } catch (error) {
      const run: JobRun = { ...base(), status: 'failed', error: error instanceof Error ? error.message : String(error) };
      // The message and stack only: a database error's detail can quote row values.
      logger.error({ ...run, stack: error instanceof Error ? error.stack : undefined }, 'scheduled job failed; it runs again at the next tick');
      return run;
    }
  }

  /** The single-flight guard: a job already running is joined, never started a second time. */
  function runJob(job: ScheduledJob): Promise<JobRun> {
    const underWay = running.get(job.name);
    if (underWay) return underWay;
    const run = execute(job).finally(() => running.delete(job.name));
    running.set(job.name, run);
    return run;
  }

  async function runInOrder(selected: readonly ScheduledJob[]): Promise<SchedulerReport> {
    const runs: JobRun[] = [];
    for (const job of selected) {
      if (stopped) break;
      runs.push(await runJob(job));
    }
    return { runs };
  }

  function arm(): void {
    timer = setTimeout(() => {
      tick = runInOrder(jobs)
        // A job's failure is already a 'failed' run; this is only a broken clock, and the ticks must go on.
        .catch((error: unknown) => logger.error({ error: String(error) }, 'scheduled jobs could not run this tick'))
        .then(() => {
          tick = undefined;
          if (!stopped) arm();
        });
    }, intervalMs);
    // The hub's servers keep the process alive; a forgotten scheduler must not.
    timer.unref();
  }
  arm();

  return {
    async runNow(name) {
      if (stopped) throw new Error('The job scheduler has been stopped.');
      if (name === undefined) return runInOrder(jobs);
      const job = jobs.find((j) => j.name === name);
      if (!job) {
        const names = jobs.map((j) => j.name).join(', ');
        throw kernelErrors.INVALID_INPUT({ zh: `没有名为「${name}」的定时任务；现有任务：${names}`, en: `No scheduled job is named "${name}"; the jobs are ${names}` });
      }
      return runInOrder([job]);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([tick, ...running.values()]);
    },
  };
}
