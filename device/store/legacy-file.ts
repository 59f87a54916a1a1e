import { link, stat } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from '../../shared/logger.ts';
import { validate } from '../../shared/contract/decode.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { writeFileAtomically } from './atomic-write.ts';
import { InvalidKioskDataError } from './errors.ts';
import { JournalWriter } from './journal-file.ts';
import { MemberCache } from './member-cache.ts';
import { replayJournal } from './outbox-journal.ts';
import { CashState, emptyCashState, OutboxEntry, snapshotOf } from './outbox-state.ts';
import { AppliedConfig, AppliedProgramShape, checkProgramRules, type AppliedProgram, type Settings } from './settings.ts';
import type { KioskStoreFiles } from './store-files.ts';

/**
 * The single JSON document kiosks kept everything in before the store was split (v 1): outbox, sequence
 * counter, member cache, cash state, configuration and program rules, rewritten whole on every change.
 */
const LegacyKioskData = Type.Object({
  v: Type.Literal(1),
  nextSeq: Type.Integer({ minimum: 1 }),
  outbox: Type.Array(OutboxEntry),
  members: Type.Record(Type.String(), MemberSnapshot),
  cash: CashState,
  config: AppliedConfig,
  program: AppliedProgramShape,
});
type LegacyKioskData = Static<typeof LegacyKioskData>;

/** Checks an old document as thoroughly as the old store did on every open; a bad one is refused, untouched. */
export function parseLegacyFile(file: string, raw: unknown): LegacyKioskData {
  const data = { ...(raw as Record<string, unknown>) };
  // Files written before cash state, configuration or program rules existed have none of them.
  data.cash ??= emptyCashState();
  data.config ??= null;
  data.program ??= null;
  const checked = validate(LegacyKioskData, data);
  if (!checked.ok) throw new InvalidKioskDataError(file, checked.reason);
  checkProgramRules(file, checked.value.program);
  return checked.value;
}

/**
 * Carries an old single-document file over to the split store, exactly once, crash-safe at every step:
 * 1. member cache: every snapshot, in one fsynced transaction (idempotent: versions only go forward);
 * 2. outbox journal: one snapshot record of outbox, sequence counter and cash state, written atomically;
 * 3. the old file is kept as `.migrated` (a hard link: same bytes, no copy);
 * 4. the settings document replaces the old file, atomically. This is the commit: until it is on disk the
 *    old file is still in place and the next start does it all again, overwriting what steps 1–3 left.
 * A journal that already holds more than that first snapshot means the kiosk has run on the new store since:
 * an old file showing up again is then refused rather than allowed to overwrite newer transactions.
 */
export async function migrateLegacyFile(files: KioskStoreFiles, legacy: LegacyKioskData, logger: Logger): Promise<void> {
  const existing = await replayJournal(files.journal);
  if (existing && existing.records.length > 1) {
    throw new InvalidKioskDataError(files.settings, `an old-format file, though ${files.journal} already holds later changes`);
  }
  const members = Object.values(legacy.members);
  const cache = MemberCache.open(files.members);
  try {
    cache.putAllDurably(members);
  } finally {
    cache.close();
  }
  const outbox = { nextSeq: legacy.nextSeq, outbox: legacy.outbox, cash: legacy.cash };
  await (await JournalWriter.create(files.journal, [snapshotOf(outbox)])).close();
  await keepOldFile(files.settings, files.migrated); // made durable by the directory fsync of the next write
  const settings: Settings = { v: 2, config: legacy.config, program: legacy.program as AppliedProgram };
  await writeFileAtomically(files.settings, JSON.stringify(settings));
  logger.info(
    { pending: legacy.outbox.filter((entry) => entry.state === 'pending').length, members: members.length, keptAs: files.migrated },
    'carried the old single-file kiosk data over to the outbox journal, member cache and settings file',
  );
}

/** Links the old file under its `.migrated` name; already linked by an interrupted earlier attempt is fine. */
async function keepOldFile(file: string, keptAs: string): Promise<void> {
  try {
    await link(file, keptAs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const [old, kept] = await Promise.all([stat(file), stat(keptAs)]);
    if (old.ino !== kept.ino || old.dev !== kept.dev) {
      throw new InvalidKioskDataError(file, `an old-format file, though ${keptAs} from an earlier migration is in the way`);
    }
  }
}
