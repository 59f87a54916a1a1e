import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { Adapter } from 'lowdb';

export class CorruptDataFileError extends Error {
  constructor(file: string, cause: unknown) {
    super(`kiosk data file ${file} is not valid JSON; it was left untouched for a technician to inspect`, { cause });
    this.name = 'CorruptDataFileError';
  }
}

/**
 * A lowdb adapter that survives power loss and kill -9 at any instant.
 *
 * lowdb's own JSONFile renames a temp file but never fsyncs, so after a power cut the rename can be on disk
 * while the data is not. Here every write is: temp file → write → fsync(file) → rename over the target →
 * fsync(directory), so the file on disk is always either the complete old or the complete new version.
 * Writes are queued so two callers never interleave on the temp file.
 */
export class DurableJSONFile<T> implements Adapter<T> {
  private readonly tempFile: string;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {
    this.tempFile = join(dirname(file), `.${basename(file)}.tmp`);
  }

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
      throw new CorruptDataFileError(this.file, error);
    }
  }

  write(data: T): Promise<void> {
    const text = JSON.stringify(data);
    const next = this.queue.then(() => this.writeDurably(text));
    // A failed write must not wedge every later write; the caller still sees its own failure.
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async writeDurably(text: string): Promise<void> {
    const handle = await open(this.tempFile, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(this.tempFile).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(this.tempFile, this.file);
    const directory = await open(dirname(this.file), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
