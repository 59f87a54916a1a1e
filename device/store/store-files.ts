import { basename, dirname, extname, join } from 'node:path';

/**
 * Where a kiosk store keeps what, all beside the settings file the store is opened with (`kiosk.json`):
 * - `kiosk.json`: the small settings document (applied configuration, program rules), rewritten whole;
 * - `kiosk.outbox.journal`: the money path (outbox, sequence counter, cash state), append-only;
 * - `kiosk.members.sqlite` (with its -wal and -shm companions): the offline member cache;
 * - `kiosk.json.migrated`: the old single-document file, kept after its contents were carried over.
 */
export interface KioskStoreFiles {
  settings: string;
  journal: string;
  members: string;
  migrated: string;
}

export function kioskStoreFiles(settingsFile: string): KioskStoreFiles {
  const stem = join(dirname(settingsFile), basename(settingsFile, extname(settingsFile)));
  return {
    settings: settingsFile,
    journal: `${stem}.outbox.journal`,
    members: `${stem}.members.sqlite`,
    migrated: `${settingsFile}.migrated`,
  };
}
