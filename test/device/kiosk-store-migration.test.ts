import { link, mkdtemp, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PROGRAM_RULES } from '../../shared/rules/program.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { kioskStoreFiles, type KioskStoreFiles } from '../../device/store/store-files.ts';
import { InvalidKioskDataError, KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';

let dir: string;
let files: KioskStoreFiles;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-migration-'));
  files = kioskStoreFiles(join(dir, 'kiosk.json'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const alice = memberSnapshot({ version: 7 });
const bob = memberSnapshot({ memberId: '0190a1b2-c3d4-7e5f-8a6b-000000000002', cardUid: '04B0B0B0B0B0B0', cardNumber: '6200000000000042', version: 3 });

function entry(seq: number, state: OutboxEntry['state']): OutboxEntry {
  return {
    state,
    ...(state === 'pending' ? {} : { settledAt: '2026-01-02T03:04:05.000Z' }),
    tx: {
      v: 1,
      txId: `0190a1b2-c3d4-7e5f-8a6b-00000000010${seq}`,
      deviceId: 'k1',
      seq,
      createdAt: '2026-01-02T03:00:00.000Z',
      body: { kind: 'cash_topup', memberId: alice.memberId, cardUid: alice.cardUid, amountFen: 1000 * seq, currency: 'CNY' },
    },
  };
}

/** A kiosk's data file as the single-document store of before wrote it, with something in every part. */
const oldDocument = {
  v: 1,
  nextSeq: 7,
  outbox: [entry(4, 'synced'), entry(5, 'pending'), entry(6, 'pending')],
  members: { [alice.cardUid]: alice, [bob.cardUid]: bob },
  cash: { session: { member: alice, openedAt: '2026-01-02T02:59:00.000Z', creditedFen: 11000 }, lastBillEventCounter: 42 },
  config: {
    version: 3,
    config: { receiptFooter: '谢谢 Thank you', offlineLimits: { perTransactionFen: 50_000, perCardPerDayFen: 100_000, perKioskTotalFen: 500_000, maxOfflineHours: 24 } },
    appliedAt: '2026-01-01T00:00:00.000Z',
  },
  program: { version: 2, rules: DEFAULT_PROGRAM_RULES, appliedAt: '2026-01-01T00:00:00.000Z' },
};
const oldText = JSON.stringify(oldDocument);

async function expectCarriedOver(store: KioskStore): Promise<void> {
  expect(store.pending().map((pending) => pending.tx.seq)).toEqual([5, 6]);
  expect(store.entry(entry(4, 'synced').tx.txId)).toEqual(entry(4, 'synced'));
  expect(store.cash).toEqual(oldDocument.cash);
  expect(store.cachedMember(alice.cardUid)).toEqual(alice);
  expect(store.cachedMemberByNumber('6200000000000042')).toEqual(bob);
  expect(store.config).toEqual(oldDocument.config);
  expect(store.program).toEqual(oldDocument.program);
}

describe('opening an old single-document data file', () => {
  it('carries everything over once, keeps the old file as .migrated, and goes on numbering after it', async () => {
    await writeFile(files.settings, oldText);
    const store = await KioskStore.open(files.settings);
    await expectCarriedOver(store);
    expect(await readFile(files.migrated, 'utf8')).toBe(oldText);
    expect(JSON.parse(await readFile(files.settings, 'utf8'))).toMatchObject({ v: 2, config: { version: 3 }, program: { version: 2 } });
    const next = await store.recordCashTopUp({ deviceId: 'k1', member: alice, amountFen: 500 });
    expect(next.tx.seq).toBe(7);
    await store.close();

    const reopened = await KioskStore.open(files.settings);
    expect(reopened.pending().map((pending) => pending.tx.seq)).toEqual([5, 6, 7]);
    expect(reopened.cash.session?.creditedFen).toBe(11000 + 500);
    await reopened.close();
  });

  it('carries it over exactly once when a crash interrupted the first attempt', async () => {
    await writeFile(files.settings, oldText);
    await (await KioskStore.open(files.settings)).close();
    // Killed after the journal and cache were written, before the old file was kept and replaced:
    await rename(files.migrated, files.settings);
    const again = await KioskStore.open(files.settings);
    await expectCarriedOver(again);
    await again.close();
    // Killed after the old file was kept (linked), before the settings replaced it:
    await unlink(files.settings);
    await link(files.migrated, files.settings);
    const third = await KioskStore.open(files.settings);
    await expectCarriedOver(third);
    expect(await readFile(files.migrated, 'utf8')).toBe(oldText);
    await third.close();
  });

  it('refuses an old file that shows up after the kiosk has run on the new store, and touches nothing', async () => {
    await writeFile(files.settings, oldText);
    const store = await KioskStore.open(files.settings);
    await store.recordCashTopUp({ deviceId: 'k1', member: alice, amountFen: 500 });
    await store.close();
    const journalBefore = await readFile(files.journal);
    await unlink(files.migrated);
    await writeFile(files.settings, oldText);

    await expect(KioskStore.open(files.settings)).rejects.toThrow(InvalidKioskDataError);
    expect(await readFile(files.settings, 'utf8')).toBe(oldText);
    expect(await readFile(files.journal)).toEqual(journalBefore);
    await expect(stat(files.migrated)).rejects.toThrow(/ENOENT/);
  });

  it('refuses an old file of the wrong shape before writing anything', async () => {
    const wrong = JSON.stringify({ ...oldDocument, outbox: [{ ...entry(5, 'pending'), state: 'lost' }] });
    await writeFile(files.settings, wrong);
    await expect(KioskStore.open(files.settings)).rejects.toThrow(InvalidKioskDataError);
    expect(await readFile(files.settings, 'utf8')).toBe(wrong);
    await expect(stat(files.journal)).rejects.toThrow(/ENOENT/);
    await expect(stat(files.migrated)).rejects.toThrow(/ENOENT/);
  });
});
