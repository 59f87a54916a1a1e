import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../shared/logger.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { encodeRecord, parseJournal } from '../../device/store/journal-file.ts';
import { replayContents } from '../../device/store/outbox-journal.ts';
import { kioskStoreFiles } from '../../device/store/store-files.ts';
import { CorruptDataFileError, InvalidKioskDataError, KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';

let dir: string;
let file: string;
let journal: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-journal-'));
  file = join(dir, 'kiosk.json');
  journal = kioskStoreFiles(file).journal;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A logger that remembers its warnings, for "logged once". */
function recordingLogger() {
  const warn = vi.fn();
  const logger = { warn, info: vi.fn(), error: vi.fn() } as unknown as Logger;
  return { logger, warn };
}

const member = memberSnapshot();
const topUp = (store: KioskStore, billEventCounter: number) => store.recordCashTopUp({ deviceId: 'k1', member, amountFen: 1000, billEventCounter });
const okAck = (entry: OutboxEntry, version: number) => ({
  v: 1 as const,
  txId: entry.tx.txId,
  seq: entry.tx.seq,
  status: 'ok' as const,
  replay: false,
  member: memberSnapshot({ version }),
});

/** Where each line of the journal ends (the offset after its '\n'). */
function lineEnds(bytes: Buffer): number[] {
  const ends: number[] = [];
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) ends.push(at + 1);
  return ends;
}

describe('the outbox journal', () => {
  /**
   * Six records: the snapshot a journal starts with, a baseline, a cash session, a top-up, its ack, a second
   * top-up. What the store must show once the first `n` of them are complete on disk.
   */
  async function sixRecords() {
    const store = await KioskStore.open(file);
    await store.setBillEventBaseline(7);
    await store.openCashSession(member);
    const first = await topUp(store, 8);
    await store.applyAck(okAck(first, 5));
    const second = await topUp(store, 9);
    await store.close();
    const expected = [
      { pending: [], counter: null, session: false, firstState: undefined },
      { pending: [], counter: 7, session: false, firstState: undefined },
      { pending: [], counter: 7, session: true, firstState: undefined },
      { pending: [first.tx.txId], counter: 8, session: true, firstState: 'pending' },
      { pending: [], counter: 8, session: true, firstState: 'synced' },
      { pending: [second.tx.txId], counter: 9, session: true, firstState: 'synced' },
    ];
    return { bytes: await readFile(journal), expected, nextSeq: [1, 1, 1, 2, 2, 3] };
  }

  /** What a state shows of the six records' effects. */
  function shown(outbox: OutboxEntry[], cash: { lastBillEventCounter: number | null; session: unknown }) {
    return {
      pending: outbox.filter((entry) => entry.state === 'pending').map((entry) => entry.tx.txId),
      counter: cash.lastBillEventCounter,
      session: cash.session !== null,
      firstState: outbox.find((entry) => entry.tx.seq === 1)?.state,
    };
  }

  async function openedStore() {
    const store = await KioskStore.open(file, { logger: recordingLogger().logger });
    return { store, state: shown(store.resendable(1, Number.MAX_SAFE_INTEGER), store.cash) };
  }

  /** Replays a journal's bytes in memory, as a store's open does after reading the file. */
  const replay = (bytes: Buffer) => replayContents(journal, parseJournal(journal, bytes));

  it('replays a journal cut at every byte offset to its last complete record', async () => {
    const { bytes, expected, nextSeq } = await sixRecords();
    const ends = lineEnds(bytes);
    expect(ends).toHaveLength(6);
    // The first record is written whole (temp file + rename), so a crash can cut only after it.
    for (let cut = ends[0]!; cut <= bytes.length; cut++) {
      const complete = ends.filter((end) => end <= cut).length;
      const replayed = replay(bytes.subarray(0, cut));
      expect(shown(replayed.state.outbox, replayed.state.cash), `journal cut at byte ${cut}`).toEqual(expected[complete - 1]);
      expect(replayed.state.nextSeq).toBe(nextSeq[complete - 1]);
      expect(replayed.validLength).toBe(ends[complete - 1]);
    }
  });

  it('opens a store whose journal was cut around and inside every record, and appends after the cut', async () => {
    const { bytes, expected, nextSeq } = await sixRecords();
    const ends = lineEnds(bytes);
    const cuts = ends.flatMap((end, i) => [end - 1, end, end + 1, Math.round((end + (ends[i + 1] ?? bytes.length)) / 2)]);
    for (const cut of cuts.filter((at) => at >= ends[0]! && at <= bytes.length)) {
      await writeFile(journal, bytes.subarray(0, cut));
      const complete = ends.filter((end) => end <= cut).length;
      const { store, state } = await openedStore();
      expect(state, `journal cut at byte ${cut}`).toEqual(expected[complete - 1]);
      // The torn bytes are gone: the next record follows the last complete one and reads back.
      const next = await topUp(store, 10);
      expect(next.tx.seq).toBe(nextSeq[complete - 1]);
      await store.close();
      const { store: reopened, state: after } = await openedStore();
      expect(after.pending).toEqual([...expected[complete - 1]!.pending, next.tx.txId]);
      expect(lineEnds(await readFile(journal))).toHaveLength(complete + 1);
      await reopened.close();
    }
  });

  it('treats a last record whose blocks never reached the disk (zeros) as torn too', async () => {
    const { bytes, expected } = await sixRecords();
    const ends = lineEnds(bytes);
    for (let cut = ends[4]!; cut < bytes.length; cut++) {
      const replayed = replay(Buffer.concat([bytes.subarray(0, cut), Buffer.alloc(bytes.length - cut)]));
      expect(shown(replayed.state.outbox, replayed.state.cash), `zeros from byte ${cut}`).toEqual(expected[4]);
    }
    await writeFile(journal, Buffer.concat([bytes.subarray(0, ends[4]! + 3), Buffer.alloc(bytes.length - ends[4]! - 3)]));
    const { store, state } = await openedStore();
    expect(state).toEqual(expected[4]);
    await store.close();
  });

  it('logs a torn tail once and cuts it off', async () => {
    const { bytes } = await sixRecords();
    await writeFile(journal, bytes.subarray(0, bytes.length - 5));
    const first = recordingLogger();
    await (await KioskStore.open(file, { logger: first.logger })).close();
    expect(first.warn).toHaveBeenCalledTimes(1);
    expect(first.warn.mock.calls[0]![0]).toMatchObject({ file: journal, tornBytes: lineEnds(bytes).at(-1)! - lineEnds(bytes).at(-2)! - 5 });
    const second = recordingLogger();
    await (await KioskStore.open(file, { logger: second.logger })).close();
    expect(second.warn).not.toHaveBeenCalled();
  });

  it('refuses a journal damaged before its last record, naming the file and line, and leaves it untouched', async () => {
    const { bytes } = await sixRecords();
    const damaged = Buffer.from(bytes);
    const flipped = lineEnds(bytes)[2]! + 20; // inside the first top-up
    damaged[flipped] = damaged[flipped]! ^ 0x01;
    await writeFile(journal, damaged);
    const opening = KioskStore.open(file);
    await expect(opening).rejects.toThrow(CorruptDataFileError);
    await expect(opening).rejects.toThrow(`${journal} line 4 fails its checksum`);
    expect(await readFile(journal)).toEqual(damaged);
  });

  it('refuses a well-formed record of the wrong shape, and a journal that does not start with a snapshot', async () => {
    await (await KioskStore.open(file)).close();
    const good = await readFile(journal);
    await appendFile(journal, encodeRecord({ k: 'topup', entry: { tx: 'nonsense' } }));
    await expect(KioskStore.open(file)).rejects.toThrow(InvalidKioskDataError);
    await writeFile(journal, encodeRecord({ k: 'baseline', counter: 3 }));
    await expect(KioskStore.open(file)).rejects.toThrow(/record 1: a journal starts with its one snapshot record/);
    await writeFile(journal, good);
    await (await KioskStore.open(file)).close();
  });

  it('refuses to start without its journal rather than hand out sequence numbers again', async () => {
    const store = await KioskStore.open(file);
    await topUp(store, 1);
    await store.close();
    await rm(journal);
    await expect(KioskStore.open(file)).rejects.toThrow(new RegExp(`outbox journal ${journal} is missing`));
  });

  it('compacts itself to one snapshot once changes pile up, keeping every entry and the counters', async () => {
    const store = await KioskStore.open(file);
    const first = await topUp(store, 0);
    await store.applyAck(okAck(first, 3));
    const pending = await topUp(store, 1);
    await store.close();
    // 1000 changes since the snapshot, appended without a store (and without 1000 fsyncs).
    await appendFile(journal, Buffer.concat(Array.from({ length: 997 }, (_, i) => encodeRecord({ k: 'baseline', counter: i % 256 }))));

    const busy = await KioskStore.open(file);
    await busy.setBillEventBaseline(200);
    await busy.close();
    expect(lineEnds(await readFile(journal))).toHaveLength(1);

    const reopened = await KioskStore.open(file);
    expect(reopened.pending()).toEqual([pending]);
    expect(reopened.entry(first.tx.txId)?.state).toBe('synced');
    expect(reopened.cash.lastBillEventCounter).toBe(200);
    expect((await topUp(reopened, 2)).tx.seq).toBe(3);
    await reopened.close();
    expect(lineEnds(await readFile(journal))).toHaveLength(2);
  });
});
