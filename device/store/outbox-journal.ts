import type { Logger } from '../../shared/logger.ts';
import { validate } from '../../shared/contract/decode.ts';
import { CorruptDataFileError, InvalidKioskDataError } from './errors.ts';
import { JournalWriter, readJournal, type JournalContents } from './journal-file.ts';
import { applyRecord, emptyOutboxState, OutboxRecord, snapshotOf, type OutboxState } from './outbox-state.ts';

/**
 * Records appended after the last snapshot before the journal is compacted to a single snapshot. Replaying
 * this many at start costs milliseconds; compacting (rewriting the live outbox, at most the pending entries
 * plus 500 settled ones) costs a few, once per this many changes.
 */
const COMPACT_AFTER_RECORDS = 1000;

interface Replayed {
  state: OutboxState;
  records: OutboxRecord[];
  validLength: number;
  tornBytes: number;
}

/** Replays a journal into the state it describes; undefined when there is no journal yet. Writes nothing. */
export async function replayJournal(file: string): Promise<Replayed | undefined> {
  const contents = await readJournal(file);
  return contents && replayContents(file, contents);
}

/** The state a journal's parsed contents describe; every record is checked, the first must be the snapshot. */
export function replayContents(file: string, contents: JournalContents): Replayed {
  if (contents.records.length === 0) throw new CorruptDataFileError(file, 'holds no complete record');
  const state = emptyOutboxState();
  const records = contents.records.map((value, index) => {
    const checked = validate(OutboxRecord, value);
    if (!checked.ok) throw new InvalidKioskDataError(file, `record ${index + 1}: ${checked.reason}`);
    if ((index === 0) !== (checked.value.k === 'snapshot')) {
      throw new InvalidKioskDataError(file, `record ${index + 1}: a journal starts with its one snapshot record`);
    }
    applyRecord(state, checked.value);
    return checked.value;
  });
  return { state, records, validLength: contents.validLength, tornBytes: contents.tornBytes };
}

/**
 * The outbox, sequence counter and cash state, kept in an append-only journal (journal-file.ts): every change
 * is one record, durable (fdatasync) before it is applied in memory and before its caller hears of it. The
 * cost of a change is one small append whatever else the kiosk stores.
 */
export class OutboxJournal {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly writer: JournalWriter,
    private readonly current: OutboxState,
    private recordsSinceSnapshot: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the journal; when there is none, creates an empty one if `create` says to, else returns
   * undefined. Returns the records it replayed too (the store re-applies what they say about the member
   * cache). A torn last record — normal after a power cut or kill -9 mid-append, and never acknowledged to
   * anyone — ends the replay and is cut off.
   */
  static async open(
    file: string,
    { logger, create }: { logger: Logger; create: boolean },
  ): Promise<{ journal: OutboxJournal; replayed: OutboxRecord[] } | undefined> {
    const replayed = await replayJournal(file);
    if (!replayed) {
      if (!create) return undefined;
      const empty = emptyOutboxState();
      const writer = await JournalWriter.create(file, [snapshotOf(empty)]);
      return { journal: new OutboxJournal(file, writer, empty, 0, logger), replayed: [] };
    }
    if (replayed.tornBytes > 0) {
      logger.warn({ file, tornBytes: replayed.tornBytes }, 'the kiosk journal ended in a torn record, never acknowledged; it is cut off');
    }
    const writer = await JournalWriter.open(file, replayed.validLength);
    const journal = new OutboxJournal(file, writer, replayed.state, replayed.records.length - 1, logger);
    return { journal, replayed: replayed.records };
  }

  get state(): Readonly<OutboxState> {
    return this.current;
  }

  /**
   * Runs `decide` on the current state once every earlier change is done, makes the record it returns durable,
   * then applies it. `decide` returns undefined to change nothing. Changes never interleave: a sequence number
   * handed out by one is never handed out again.
   */
  commit<R extends OutboxRecord>(decide: (state: Readonly<OutboxState>) => R | undefined): Promise<R | undefined> {
    const result = this.serially(async () => {
      const record = decide(this.current);
      if (record === undefined) return undefined;
      await this.writer.append(record);
      applyRecord(this.current, record);
      this.recordsSinceSnapshot += 1;
      if (this.recordsSinceSnapshot >= COMPACT_AFTER_RECORDS) void this.serially(() => this.compact());
      return record;
    });
    return result;
  }

  /** Waits for every change and compaction so far, then closes the file. */
  close(): Promise<void> {
    return this.serially(() => this.writer.close());
  }

  /** Rewrites the journal as one snapshot of the current state; the old journal stays in force until it is done. */
  private async compact(): Promise<void> {
    try {
      await this.writer.replaceWith([snapshotOf(this.current)]);
      this.recordsSinceSnapshot = 0;
    } catch (error) {
      // Nothing is lost: appends go on to the old journal. Try again after as many changes, not at every one.
      this.recordsSinceSnapshot = 0;
      this.logger.error({ file: this.file, err: (error as Error).message }, 'compacting the kiosk journal failed');
    }
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task);
    // A failed change must not wedge every later one; its caller still sees its own failure.
    this.queue = next.catch(() => undefined);
    return next;
  }
}
