import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { encodeRecord } from '../../device/store/journal-file.ts';
import { kioskStoreFiles, type KioskStoreFiles } from '../../device/store/store-files.ts';
import { CorruptDataFileError, InvalidKioskDataError, KioskStore } from '../../device/store/kiosk-store.ts';

let dir: string;
let files: KioskStoreFiles;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-members-'));
  files = kioskStoreFiles(join(dir, 'kiosk.json'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const carded = memberSnapshot();
const striped = memberSnapshot({ memberId: '0190a1b2-c3d4-7e5f-8a6b-000000000009', cardUid: '04C0FFEE00AA11', cardNumber: '6200123412341234', version: 1 });

describe('the member cache', () => {
  it('finds members by card UID and by card number, lists every card, and keeps them across a restart', async () => {
    const store = await KioskStore.open(files.settings);
    expect(await store.cacheMember(carded)).toBe(true);
    expect(await store.cacheMember(striped)).toBe(true);
    await store.close();

    const reopened = await KioskStore.open(files.settings);
    expect(reopened.cachedMember('04A22B1C')).toEqual(carded);
    expect(reopened.cachedMemberByNumber('6200123412341234')).toEqual(striped);
    expect(reopened.cachedMemberByNumber('6200000000000000')).toBeUndefined();
    expect(reopened.cachedCards().sort()).toEqual(['04A22B1C', '04C0FFEE00AA11']);
    await reopened.close();
  });

  it('never lets an older snapshot of a member win, but lets a card handed to another member be replaced', async () => {
    const store = await KioskStore.open(files.settings);
    await store.cacheMember(memberSnapshot({ version: 5 }));
    expect(await store.cacheMember(memberSnapshot({ version: 4 }))).toBe(false);
    expect(await store.cacheMember(memberSnapshot({ version: 5, displayName: '张三丰' }))).toBe(true);
    expect(await store.cacheMember({ ...striped, cardUid: '04A22B1C', version: 1 })).toBe(true);
    expect(store.cachedMember('04A22B1C')?.memberId).toBe(striped.memberId);
    await store.close();
  });

  it('receives the member an ack confirmed even when the kiosk died between the ack and the cache', async () => {
    const store = await KioskStore.open(files.settings);
    const entry = await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 10000 });
    await store.close();
    // The ack's record is durable in the journal; the process died before the cache write.
    const confirmed = memberSnapshot({ version: 9, balances: { principalFen: 15000, bonusFen: 0, points: 30 } });
    await appendFile(files.journal, encodeRecord({ k: 'settled', txId: entry.tx.txId, settledAt: new Date().toISOString(), state: 'synced', member: confirmed }));

    const reopened = await KioskStore.open(files.settings);
    expect(reopened.pending()).toEqual([]);
    expect(reopened.cachedMember('04A22B1C')).toEqual(confirmed);
    await reopened.close();
  });

  it('refuses a cache file that is not a database, naming it, and leaves it untouched', async () => {
    await (await KioskStore.open(files.settings)).close();
    await rm(`${files.members}-wal`, { force: true });
    await rm(`${files.members}-shm`, { force: true });
    const garbage = Buffer.from('this is not a database, it is a shopping list: rice, tea, batteries '.repeat(100));
    await writeFile(files.members, garbage);
    const opening = KioskStore.open(files.settings);
    await expect(opening).rejects.toThrow(CorruptDataFileError);
    await expect(opening).rejects.toThrow(files.members);
    expect(await readFile(files.members)).toEqual(garbage);
  });

  it('refuses a database that is not a kiosk member cache', async () => {
    await (await KioskStore.open(files.settings)).close();
    await rm(files.members);
    const other = new Database(files.members);
    other.exec('CREATE TABLE recipes (name TEXT)');
    other.close();
    await expect(KioskStore.open(files.settings)).rejects.toThrow(InvalidKioskDataError);
  });
});
