import Database from 'better-sqlite3';
import { validate } from '../../shared/contract/decode.ts';
import { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { CorruptDataFileError, InvalidKioskDataError } from './errors.ts';

/** Bumped when the table changes; a file with another version is refused, never guessed at. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE members (
    card_uid TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    card_number TEXT,
    version INTEGER NOT NULL,
    snapshot TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX members_by_card_number ON members (card_number) WHERE card_number IS NOT NULL;
  PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** SQLite's own words for "this file is not (any more) a database it can read". */
const UNREADABLE_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

/**
 * The member snapshots this kiosk can serve offline, in an embedded SQLite database: a lookup by card UID or
 * card number reads one row, so a kiosk with 100,000 cached members starts without reading any of them.
 *
 * Writes are not fsynced one by one (WAL, synchronous=NORMAL): a power cut may forget the last few, which
 * the hub sends again (the cache is a copy, versions only go forward), but can never corrupt the file.
 */
export class MemberCache {
  private readonly byCardUid: Database.Statement<[string], string>;
  private readonly byCardNumber: Database.Statement<[string], string>;
  private readonly allCardUids: Database.Statement<[], string>;
  private readonly upsert: Database.Statement<[{ cardUid: string; memberId: string; cardNumber: string | null; version: number; snapshot: string }]>;

  private constructor(
    private readonly file: string,
    private readonly db: Database.Database,
  ) {
    this.byCardUid = db.prepare<[string], string>('SELECT snapshot FROM members WHERE card_uid = ?').pluck();
    this.byCardNumber = db.prepare<[string], string>('SELECT snapshot FROM members WHERE card_number = ? LIMIT 1').pluck();
    this.allCardUids = db.prepare<[], string>('SELECT card_uid FROM members').pluck();
    // Replaces the cached snapshot unless it is a newer version of the same member (a card handed to another
    // member is replaced whatever the versions: they count per member).
    this.upsert = db.prepare(`
      INSERT INTO members (card_uid, member_id, card_number, version, snapshot)
      VALUES (@cardUid, @memberId, @cardNumber, @version, @snapshot)
      ON CONFLICT (card_uid) DO UPDATE SET
        member_id = excluded.member_id, card_number = excluded.card_number, version = excluded.version, snapshot = excluded.snapshot
      WHERE NOT (members.member_id = excluded.member_id AND members.version > excluded.version)
    `);
  }

  /** Opens the cache, creating an empty one when the file does not exist. */
  static open(file: string): MemberCache {
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true });
      if (version === 0) {
        const tables = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
        if (tables !== 0) throw new InvalidKioskDataError(file, 'a database, but not a kiosk member cache');
        db.exec(`BEGIN; ${SCHEMA} COMMIT;`);
      } else if (version !== SCHEMA_VERSION) {
        throw new InvalidKioskDataError(file, `member cache schema version ${String(version)}, this software reads ${SCHEMA_VERSION}`);
      }
      return new MemberCache(file, db);
    } catch (error) {
      db?.close();
      if (UNREADABLE_CODES.has((error as { code?: string }).code ?? '')) {
        throw new CorruptDataFileError(file, 'is not a readable member cache database', error);
      }
      throw error;
    }
  }

  get(cardUid: string): MemberSnapshot | undefined {
    return this.decode(this.byCardUid.get(cardUid));
  }

  getByCardNumber(cardNumber: string): MemberSnapshot | undefined {
    return this.decode(this.byCardNumber.get(cardNumber));
  }

  cardUids(): string[] {
    return this.allCardUids.all();
  }

  /** Caches a snapshot unless the cache holds a newer version of that member; true when it did. */
  put(snapshot: MemberSnapshot): boolean {
    return this.upsert.run(row(snapshot)).changes > 0;
  }

  /**
   * Caches many snapshots in one transaction, fsynced before it returns: for carrying an old data file's cache
   * over, after which that file is no longer the copy of record.
   */
  putAllDurably(snapshots: MemberSnapshot[]): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.db.transaction(() => snapshots.forEach((snapshot) => this.upsert.run(row(snapshot))))();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  close(): void {
    this.db.close();
  }

  private decode(text: string | undefined): MemberSnapshot | undefined {
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new CorruptDataFileError(this.file, 'holds a cached member that is not valid JSON', error);
    }
    const checked = validate(MemberSnapshot, value);
    if (!checked.ok) throw new InvalidKioskDataError(this.file, `a cached member: ${checked.reason}`);
    return checked.value;
  }
}

function row(snapshot: MemberSnapshot) {
  return {
    cardUid: snapshot.cardUid,
    memberId: snapshot.memberId,
    cardNumber: snapshot.cardNumber ?? null,
    version: snapshot.version,
    snapshot: JSON.stringify(snapshot),
  };
}
