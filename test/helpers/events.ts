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
