/**
 * Waiting in tests: on the event that makes the next step meaningful, never on a sleep, and always with a
 * deadline that fails with a message saying what did not happen. The deadlines are generous (tens of
 * seconds) because a busy two-core machine is slow, not broken; the test's own vitest timeout is larger
 * still, so a wait that runs out says which wait it was instead of "test timed out".
 */

/** The deadline of a single wait unless the caller gives one: enough for a busy machine, far from a hang. */
export const DEFAULT_DEADLINE_MS = 20_000;

export class DeadlineError extends Error {
  constructor(what: string, ms: number, detail?: string) {
    super(`timed out after ${ms} ms waiting for ${what}${detail ? `; ${detail}` : ''}`);
    this.name = 'DeadlineError';
  }
}

export interface WaitOptions {
  /** How long to wait before failing (DEFAULT_DEADLINE_MS). */
  timeoutMs?: number;
  /** What is awaited, in words, for the failure message: "the kiosk to report the hub connected". */
  what?: string;
}

/** Resolves or rejects as `promise` does, or rejects with a DeadlineError naming `what` after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the first `event` whose payload passes `accept`, or rejects after the deadline. The listener
 * is attached at once, so create the promise before the action that causes the event.
 */
export function nextEvent<T>(
  emitter: NodeJS.EventEmitter,
  event: string,
  accept: (payload: T) => boolean = () => true,
  { timeoutMs = DEFAULT_DEADLINE_MS, what = `the '${event}' event` }: WaitOptions = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new DeadlineError(what, timeoutMs));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!accept(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(payload);
    };
    emitter.on(event, listener);
  });
}

/** nextEvent for events with several arguments (as `events.once`): resolves with all of them. */
export function nextEventArgs<A extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, options: WaitOptions = {}): Promise<A> {
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? DEFAULT_DEADLINE_MS;
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new DeadlineError(options.what ?? `the '${event}' event`, timeoutMs));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    emitter.on(event, listener);
  });
}

export interface PollOptions extends WaitOptions {
  /** Time between two probes (50 ms): for state no event announces, e.g. a file on disk or a counter. */
  intervalMs?: number;
  /** Describes the state at the deadline, for the failure message: what was seen instead. */
  describe?: () => string | Promise<string>;
}

/**
 * Probes until `probe` returns something truthy and resolves with it; fails at the deadline with `what` and,
 * if given, `describe()`. For state that no event announces; where there is an event, use nextEvent.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: PollOptions = {}): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const { timeoutMs = DEFAULT_DEADLINE_MS, what = 'a condition', intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
    if (Date.now() >= deadline) throw new DeadlineError(what, timeoutMs, options.describe ? await options.describe() : undefined);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
