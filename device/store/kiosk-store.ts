import { Low } from 'lowdb';
import { newId } from '../../shared/ids.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import type { Balances, DeviceConfig, MemberSnapshot, TopUpPricing, TxAck } from '../../shared/contract/payloads.ts';
import type { ProgramRules } from '../../shared/rules/program.ts';
import { DurableJSONFile } from './durable-json-file.ts';
import { InvalidKioskDataError } from './errors.ts';
import { migrateLegacyFile, parseLegacyFile } from './legacy-file.ts';
import { MemberCache } from './member-cache.ts';
import { OutboxJournal, replayJournal } from './outbox-journal.ts';
import type { CashState, OutboxEntry, OutboxRecord } from './outbox-state.ts';
import { emptySettings, isSettingsDocument, parseSettings, type AppliedConfig, type AppliedProgram, type Settings } from './settings.ts';
import { kioskStoreFiles } from './store-files.ts';

export { CorruptDataFileError, InvalidKioskDataError } from './errors.ts';
export type { CashSession, CashState, OutboxEntry } from './outbox-state.ts';
export type { AppliedConfig, AppliedProgram } from './settings.ts';

export interface NewCashTopUp {
  deviceId: string;
  member: MemberSnapshot;
  amountFen: number;
  /** The bill validator's counter for the stacked bill; stored with the credit so it is never credited twice. */
  billEventCounter?: number;
  /** When the cash was taken (default now); the transaction's createdAt. */
  at?: Date;
  /** The bonus the kiosk promised for it; the open cash session's total and pricing advance in the same write. */
  pricing?: TopUpPricing;
}

export interface KioskStoreOptions {
  logger?: Logger;
}

/**
 * The kiosk's durable state, in three parts each stored the way it is used (store-files.ts names the files):
 * - the money path — outbox of transactions the hub has not acknowledged, sequence counter, cash session — in
 *   an append-only journal: one record + fdatasync per change, whatever else the kiosk holds;
 * - the member cache in SQLite: looked up one card at a time, never read whole, not even at start;
 * - the settings (applied configuration, program rules) in a small lowdb document.
 * Every mutation of the first and last is on disk before its promise resolves: nothing is "done" before that.
 * A journal change is applied in memory only once durable, so the getters never show what a crash could undo.
 */
export class KioskStore {
  private constructor(
    private readonly settings: Low<Settings>,
    private readonly journal: OutboxJournal,
    private readonly members: MemberCache,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the store whose settings document is `file` (e.g. `<dataDir>/kiosk.json`), creating it when there is
   * none, and carrying an old single-document file over first (legacy-file.ts). Bad data is refused with an
   * error naming the file, which is left as it was.
   */
  static async open(file: string, { logger = createLogger('kiosk-store') }: KioskStoreOptions = {}): Promise<KioskStore> {
    const files = kioskStoreFiles(file);
    const adapter = new DurableJSONFile<Settings>(file);
    let raw: unknown = await adapter.read();
    if (raw !== null && !isSettingsDocument(raw)) {
      await migrateLegacyFile(files, parseLegacyFile(file, raw), logger);
      raw = await adapter.read();
    }
    const settings = raw === null ? emptySettings() : parseSettings(file, raw);
    // A store is created journal first, settings last: settings without a journal is a journal lost, and
    // starting a new one would hand out sequence numbers the hub has already seen.
    const opened = await OutboxJournal.open(files.journal, { logger, create: raw === null });
    if (!opened) throw new InvalidKioskDataError(file, `its outbox journal ${files.journal} is missing`);
    const { journal, replayed } = opened;
    let members: MemberCache;
    try {
      members = MemberCache.open(files.members);
    } catch (error) {
      await journal.close();
      throw error;
    }
    const store = new KioskStore(new Low(adapter, settings), journal, members, logger);
    // An ack is durable in the journal before its member reaches the cache; a crash in between is healed here.
    for (const record of replayed) store.cacheAckedMember(record);
    if (raw === null) await store.settings.write();
    return store;
  }

  /** Records a cash top-up in the outbox and returns once it is durable on disk. */
  async recordCashTopUp({ deviceId, member, amountFen, billEventCounter, at, pricing }: NewCashTopUp): Promise<OutboxEntry> {
    const createdAt = (at ?? new Date()).toISOString();
    const record = await this.journal.commit((state) => ({
      k: 'topup' as const,
      entry: {
        state: 'pending' as const,
        tx: {
          v: 1 as const,
          txId: newId(),
          deviceId,
          seq: state.nextSeq,
          createdAt,
          body: {
            kind: 'cash_topup' as const,
            memberId: member.memberId,
            cardUid: member.cardUid,
            amountFen,
            currency: 'CNY' as const,
            ...(pricing ? { pricing } : {}),
          },
        },
      },
      ...(billEventCounter === undefined ? {} : { billEventCounter }),
    }));
    return record!.entry;
  }

  get cash(): CashState {
    return this.journal.state.cash;
  }

  /** Durably names the member bills are credited to, before the validator is enabled for them. */
  async openCashSession(member: MemberSnapshot): Promise<void> {
    const openedAt = new Date().toISOString();
    await this.journal.commit(() => ({ k: 'session' as const, session: { member, openedAt } }));
  }

  /** First start with a validator: its current counter is the baseline, nothing before it is ours to credit. */
  async setBillEventBaseline(counter: number): Promise<void> {
    await this.journal.commit(() => ({ k: 'baseline' as const, counter }));
  }

  /** Unacknowledged transactions, oldest first: the order the hub must see them in. */
  pending(): OutboxEntry[] {
    return this.journal.state.outbox.filter((entry) => entry.state === 'pending');
  }

  /**
   * The entries with sequence numbers `fromSeq`..`toSeq` the hub may still need, in sequence order: pending
   * ones, and synced ones too (the hub asking for a sequence it acknowledged means it lost it, and its
   * idempotency makes resending harmless). Rejected ones are final and never resent.
   */
  resendable(fromSeq: number, toSeq: number): OutboxEntry[] {
    return this.journal.state.outbox
      .filter((entry) => entry.state !== 'rejected' && entry.tx.seq >= fromSeq && entry.tx.seq <= toSeq)
      .sort((a, b) => a.tx.seq - b.tx.seq);
  }

  entry(txId: string): OutboxEntry | undefined {
    return this.journal.state.outbox.find((entry) => entry.tx.txId === txId);
  }

  /**
   * Settles an outbox entry from the hub's acknowledgement. Returns the entry when this ack changed it,
   * undefined for an unknown or already settled transaction (acks may arrive more than once).
   */
  async applyAck(ack: TxAck): Promise<OutboxEntry | undefined> {
    const settledAt = new Date().toISOString();
    const record = await this.journal.commit((state) => {
      const entry = state.outbox.find((candidate) => candidate.tx.txId === ack.txId);
      if (!entry || entry.state !== 'pending') return undefined;
      return ack.status === 'ok'
        ? { k: 'settled' as const, txId: ack.txId, settledAt, state: 'synced' as const, member: ack.member }
        : { k: 'settled' as const, txId: ack.txId, settledAt, state: 'rejected' as const, error: ack.error };
    });
    if (!record) return undefined;
    this.cacheAckedMember(record);
    return this.entry(ack.txId);
  }

  get config(): AppliedConfig {
    return this.settings.data.config;
  }

  /**
   * Makes `config` the applied configuration, durably, if `version` is newer than the applied one. Returns
   * false (changing nothing) for a version that is not newer: configuration never goes backwards.
   */
  async applyConfig(version: number, config: DeviceConfig): Promise<boolean> {
    const current = this.settings.data.config;
    if (current && current.version >= version) return false;
    this.settings.data.config = { version, config, appliedAt: new Date().toISOString() };
    await this.settings.write();
    return true;
  }

  get program(): AppliedProgram {
    return this.settings.data.program;
  }

  /**
   * Makes `rules` (already validated by the caller) the program in force, durably, if `version` is newer than
   * the applied one. Returns false (changing nothing) otherwise: rules never go backwards.
   */
  async applyProgram(version: number, rules: ProgramRules): Promise<boolean> {
    const current = this.settings.data.program;
    if (current && current.version >= version) return false;
    this.settings.data.program = { version, rules, appliedAt: new Date().toISOString() };
    await this.settings.write();
    return true;
  }

  /** Every card this kiosk can serve offline, for a cache refresh (read from disk: call it on demand only). */
  cachedCards(): string[] {
    return this.members.cardUids();
  }

  cachedMember(cardUid: string): MemberSnapshot | undefined {
    return this.members.get(cardUid);
  }

  /** For a magnetic-stripe swipe while offline. */
  cachedMemberByNumber(cardNumber: string): MemberSnapshot | undefined {
    return this.members.getByCardNumber(cardNumber);
  }

  /** Caches a snapshot unless the cache already holds a newer version of that member; true when it did. */
  async cacheMember(snapshot: MemberSnapshot): Promise<boolean> {
    return this.members.put(snapshot);
  }

  /**
   * What the member should see: the hub's last word plus this kiosk's top-ups the hub has not confirmed yet —
   * principal, and the bonus and bonus points the kiosk promised with them.
   */
  displayBalances(snapshot: MemberSnapshot): Balances {
    const { principalFen, bonusFen, points } = snapshot.balances;
    return this.pending()
      .filter((entry) => entry.tx.body.memberId === snapshot.memberId)
      .reduce(
        (sum, { tx: { body } }) => ({
          principalFen: sum.principalFen + body.amountFen,
          bonusFen: sum.bonusFen + (body.pricing?.bonusFen ?? 0),
          points: sum.points + (body.pricing?.bonusPoints ?? 0),
        }),
        { principalFen, bonusFen, points },
      );
  }

  /** Waits for pending writes, then closes the journal and the member cache. */
  async close(): Promise<void> {
    await this.journal.close();
    this.members.close();
  }

  /** The member an ok ack confirmed goes to the cache; the cache is a copy, so failing to is logged, not fatal. */
  private cacheAckedMember(record: OutboxRecord): void {
    if (record.k !== 'settled' || !record.member) return;
    try {
      this.members.put(record.member);
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, 'could not cache the member confirmed by an ack');
    }
  }
}

/** The outbox as it is on disk, read without changing anything (for checks from outside the kiosk process). */
export async function readOutboxOnDisk(file: string): Promise<OutboxEntry[]> {
  return (await replayJournal(kioskStoreFiles(file).journal))?.state.outbox ?? [];
}
