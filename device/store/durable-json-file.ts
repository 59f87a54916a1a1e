import { readFile } from 'node:fs/promises';
import type { Adapter } from 'lowdb';
import { writeFileAtomically } from './atomic-write.ts';
import { CorruptDataFileError } from './errors.ts';

/**
 * A lowdb adapter that survives power loss and kill -9 at any instant.
 *
 * lowdb's own JSONFile renames a temp file but never fsyncs, so after a power cut the rename can be on disk
 * while the data is not. Here every write replaces the file atomically and durably (writeFileAtomically).
 * Writes are queued so two callers never interleave on the temp file.
 */
export class DurableJSONFile<T> implements Adapter<T> {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new CorruptDataFileError(this.file, 'is not valid JSON', error);
    }
  }

  write(data: T): Promise<void> {
    const text = JSON.stringify(data);
    const next = this.queue.then(() => writeFileAtomically(this.file, text));
    // A failed write must not wedge every later write; the caller still sees its own failure.
    this.queue = next.catch(() => undefined);
    return next;
  }
}
