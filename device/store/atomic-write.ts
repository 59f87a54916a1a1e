import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `file` so that after a power cut or kill -9 at any instant it holds either the complete old or the
 * complete new content: temp file → write → fsync(file) → rename over the target → fsync(directory). Without
 * both fsyncs the rename can reach the disk before the data does. Callers serialize their own writes: the
 * temp file name is fixed per target.
 */
export async function writeFileAtomically(file: string, content: string | Uint8Array): Promise<void> {
  const tempFile = join(dirname(file), `.${basename(file)}.tmp`);
  const handle = await open(tempFile, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tempFile).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(tempFile, file);
  await syncDirectory(dirname(file));
}

/** Makes a rename, link or new file in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
