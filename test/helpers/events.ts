/** Resolves with the first `event` whose payload passes `accept`: tests wait for what happens, never sleep. */
export function nextEvent<T>(emitter: NodeJS.EventEmitter, event: string, accept: (payload: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (payload: T) => {
      if (!accept(payload)) return;
      emitter.off(event, listener);
      resolve(payload);
    };
    emitter.on(event, listener);
  });
}

/**
 * Resolves with the first defined value `probe` gives, asking again each `everyMs`, for things that emit no
 * event (another process's database session, a file); fails naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, { timeoutMs, what, everyMs = 50 }: { timeoutMs: number; what: string; everyMs?: number }): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
