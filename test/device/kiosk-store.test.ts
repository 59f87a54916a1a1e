import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { DurableJSONFile } from '../../device/store/durable-json-file.ts';
import { CorruptDataFileError, InvalidKioskDataError, KioskStore } from '../../device/store/kiosk-store.ts';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-store-'));
  file = join(dir, 'kiosk.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('DurableJSONFile', () => {
  it('reads back what it wrote, and null when nothing was written yet', async () => {
    const adapter = new DurableJSONFile<{ n: number }>(file);
    expect(await adapter.read()).toBeNull();
    await adapter.write({ n: 1 });
    expect(await new DurableJSONFile(file).read()).toEqual({ n: 1 });
  });

  it('keeps the order of concurrent writes: the last write wins, no interleaving', async () => {
    const adapter = new DurableJSONFile<{ n: number }>(file);
    await Promise.all(Array.from({ length: 20 }, (_, n) => adapter.write({ n })));
    expect(await adapter.read()).toEqual({ n: 19 });
  });

  it('ignores a half-written temp file left by a crash', async () => {
    const adapter = new DurableJSONFile<{ n: number }>(file);
    await adapter.write({ n: 1 });
    await writeFile(join(dir, '.kiosk.json.tmp'), '{"n": 2, "trunc');
    expect(await adapter.read()).toEqual({ n: 1 });
    await adapter.write({ n: 3 });
    expect(await adapter.read()).toEqual({ n: 3 });
  });

  it('refuses a corrupt file with a clear error and leaves it untouched', async () => {
    await writeFile(file, '{"outbox": [');
    await expect(new DurableJSONFile(file).read()).rejects.toThrow(CorruptDataFileError);
    expect(await readFile(file, 'utf8')).toBe('{"outbox": [');
  });
});

describe('KioskStore', () => {
  it('numbers outbox entries 1, 2, 3 and keeps them across a restart', async () => {
    const store = await KioskStore.open(file);
    const first = await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 10000 });
    const second = await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 2000 });
    expect([first.tx.seq, second.tx.seq]).toEqual([1, 2]);
    expect(first.tx.txId).not.toBe(second.tx.txId);

    const reopened = await KioskStore.open(file);
    expect(reopened.pending().map((entry) => entry.tx)).toEqual([first.tx, second.tx]);
    const third = await reopened.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 100 });
    expect(third.tx.seq).toBe(3);
  });

  it('settles an entry once from an ok ack and caches the confirmed member', async () => {
    const store = await KioskStore.open(file);
    const entry = await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 10000 });
    const confirmed = memberSnapshot({ version: 4, balances: { principalFen: 15000, bonusFen: 0, points: 12 } });
    const ack = { v: 1 as const, txId: entry.tx.txId, seq: 1, status: 'ok' as const, replay: false, member: confirmed };

    expect((await store.applyAck(ack))?.state).toBe('synced');
    expect(await store.applyAck(ack)).toBeUndefined();
    expect(await store.applyAck({ ...ack, txId: newId() })).toBeUndefined();

    const reopened = await KioskStore.open(file);
    expect(reopened.pending()).toEqual([]);
    expect(reopened.cachedMember('04A22B1C')).toEqual(confirmed);
  });

  it('marks an entry rejected with the hub error and stops sending it', async () => {
    const store = await KioskStore.open(file);
    const entry = await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 10000 });
    const error = { code: 'IDEMPOTENCY_CONFLICT', message: 'different payload' };
    const settled = await store.applyAck({ v: 1, txId: entry.tx.txId, seq: 1, status: 'error', error });
    expect(settled).toMatchObject({ state: 'rejected', error });
    expect(store.pending()).toEqual([]);
  });

  it('shows pending top-ups on top of the cached balance, and never lets an older snapshot win', async () => {
    const store = await KioskStore.open(file);
    await store.cacheMember(memberSnapshot({ version: 5, balances: { principalFen: 7000, bonusFen: 500, points: 1 } }));
    await store.cacheMember(memberSnapshot({ version: 4, balances: { principalFen: 1, bonusFen: 0, points: 0 } }));
    const cached = store.cachedMember('04A22B1C')!;
    expect(cached.version).toBe(5);

    await store.recordCashTopUp({ deviceId: 'k1', member: cached, amountFen: 10000 });
    expect(store.displayBalances(cached)).toEqual({ principalFen: 17000, bonusFen: 500, points: 1 });
    expect(store.displayBalances(memberSnapshot({ memberId: newId() })).principalFen).toBe(5000);
  });

  it('refuses a data file of the wrong shape and leaves it untouched', async () => {
    const wrong = JSON.stringify({ v: 1, nextSeq: 'one', outbox: [], members: {} });
    await writeFile(file, wrong);
    await expect(KioskStore.open(file)).rejects.toThrow(InvalidKioskDataError);
    expect(await readFile(file, 'utf8')).toBe(wrong);
  });

  it('keeps the cash session and the last credited bill counter across a restart, written with the credit', async () => {
    const store = await KioskStore.open(file);
    expect(store.cash).toEqual({ session: null, lastBillEventCounter: null });
    await store.setBillEventBaseline(41);
    await store.openCashSession(memberSnapshot());
    await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 10000, billEventCounter: 42 });

    const reopened = await KioskStore.open(file);
    expect(reopened.cash).toMatchObject({ session: { member: { memberId: memberSnapshot().memberId } }, lastBillEventCounter: 42 });
    expect(reopened.pending()).toHaveLength(1);
  });

  it('opens a data file written before cash state existed', async () => {
    await writeFile(file, JSON.stringify({ v: 1, nextSeq: 3, outbox: [], members: {} }));
    const store = await KioskStore.open(file);
    expect(store.cash).toEqual({ session: null, lastBillEventCounter: null });
    expect((await store.recordCashTopUp({ deviceId: 'k1', member: memberSnapshot(), amountFen: 100 })).tx.seq).toBe(3);
  });
});
