/** How the batcher groups and paces work; the gateway picks defaults by database backend. */
export interface BatchTuning {
  /** A batch closes at this many items… */
  maxSize: number;
  /**
   * …or this long after its first item arrived at an idle lane, so a lone kiosk's ack waits only this much. 0: on
   * the event loop's next turn, with every item that arrived in this one (no timer: Node's shortest is 1 ms).
   */
  lingerMs: number;
  /** Batches in flight at once (database connections used). Items with one order key always share a lane. */
  lanes: number;
  /** Above this many items queued or in flight, intake pauses until half of them are done (back-pressure). */
  maxQueued: number;
}

export interface BatcherOptions<T> extends BatchTuning {
  /** Items with the same key are run in arrival order, never in two batches at once. */
  orderKey(item: T): string;
  /** Runs one batch; resolves with the items it could not decide, which go first into the lane's next batch. */
  run(batch: T[]): Promise<T[]>;
  /** A batch run that threw (a bug: `run` handles its own failures); its items are dropped from the queue. */
  onError(error: Error): void;
}

interface Lane<T> {
  queue: T[];
  running: boolean;
  /** Cancels what will close the lane's filling batch (a timer, or an immediate for a linger of 0); set while one waits. */
  cancelClose: (() => void) | undefined;
}

/**
 * Groups queued work into batches: per lane one batch at a time, closed on size or a short deadline, and while a
 * batch runs the next one fills up (so under load batches grow by themselves, and when idle an item waits only
 * `lingerMs`). Items are spread over lanes by order key, which keeps one key's items in order and lets different
 * keys' batches run side by side. When too much is waiting, `whenRoom` holds the intake back.
 */
export class TransactionBatcher<T> {
  private readonly lanes: Lane<T>[];
  /** Items queued or in a running batch. */
  private pending = 0;
  private readonly held: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatcherOptions<T>) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ queue: [], running: false, cancelClose: undefined }));
  }

  push(item: T): void {
    const lane = this.lanes[laneIndex(this.options.orderKey(item), this.lanes.length)]!;
    lane.queue.push(item);
    this.pending += 1;
    this.schedule(lane);
  }

  /** Calls `resume` now when there is room for more work, else once the backlog has drained to half. */
  whenRoom(resume: () => void): void {
    if (this.pending < this.options.maxQueued) resume();
    else this.held.push(resume);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(lane: Lane<T>): void {
    if (lane.running || lane.queue.length === 0) return;
    if (lane.queue.length >= this.options.maxSize) return this.start(lane);
    lane.cancelClose ??= this.closeLater(lane);
  }

  private closeLater(lane: Lane<T>): () => void {
    if (this.options.lingerMs > 0) {
      const timer = setTimeout(() => this.start(lane), this.options.lingerMs);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(() => this.start(lane));
    return () => clearImmediate(immediate);
  }

  private start(lane: Lane<T>): void {
    lane.cancelClose?.();
    lane.cancelClose = undefined;
    if (lane.running || lane.queue.length === 0) return;
    lane.running = true;
    const batch = lane.queue.splice(0, this.options.maxSize);
    this.options
      .run(batch)
      .catch((error: Error) => {
        this.options.onError(error);
        return [];
      })
      .then((undecided) => {
        lane.queue.unshift(...undecided);
        this.pending -= batch.length - undecided.length;
        lane.running = false;
        // The lane's next items have waited for this whole batch already: they go at once.
        if (lane.queue.length > 0) this.start(lane);
        this.afterProgress();
      });
  }

  private afterProgress(): void {
    if (this.pending <= this.options.maxQueued / 2) for (const resume of this.held.splice(0)) resume();
    if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** FNV-1a: a cheap, stable spread of order keys over lanes. */
function laneIndex(key: string, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}
