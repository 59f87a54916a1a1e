import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { HubUnavailableError, type CardLookupResult } from '../../device/sync/hub-link.ts';
import { Kiosk, NoMemberError, type HubPort, type KioskView } from '../../device/kiosk/kiosk.ts';
import { messages } from '../../device/kiosk/messages.ts';
import type { TopUpReceipt } from '../../device/printer/receipt.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';

/**
 * The member flow against stand-ins for the hub link and the printer (their real counterparts are
 * covered in the gateway, printer and end-to-end tests); the store is the real durable one.
 */
const member = memberSnapshot();

class StandInHub extends EventEmitter implements HubPort {
  connected = true;
  lookup: (uid: string) => Promise<CardLookupResult> = async () => ({ found: true, member });
  published: OutboxEntry[] = [];
  lookupCard(uid: string) {
    return this.lookup(uid);
  }
  publish(entry: OutboxEntry) {
    this.published.push(entry);
  }
}

class StandInPrinter {
  printed: TopUpReceipt[] = [];
  failWith: Error | undefined;
  private waiters: Array<(receipt: TopUpReceipt) => void> = [];
  async printTopUp(receipt: TopUpReceipt) {
    if (this.failWith) throw this.failWith;
    this.printed.push(receipt);
    this.waiters.splice(0).forEach((wake) => wake(receipt));
  }
  next(): Promise<TopUpReceipt> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

let dir: string;
let store: KioskStore;
let hub: StandInHub;
let printer: StandInPrinter;
let kiosk: Kiosk;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-flow-'));
  store = await KioskStore.open(join(dir, 'kiosk.json'));
  hub = new StandInHub();
  printer = new StandInPrinter();
  kiosk = new Kiosk({
    deviceId: 'k1',
    storeName: '测试店 Test store',
    store,
    hub,
    printer,
    logger: createLogger('test'),
    receiptAckWaitMs: 60_000,
  });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const screenOf = (view: KioskView) => view.screen;

describe('kiosk member flow', () => {
  it('shows the member and balances the hub returns for a tapped card', async () => {
    await kiosk.cardTapped('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', member, balances: member.balances, offline: false, message: messages.insertCash });
  });

  it('tells the member an unknown card is not registered', async () => {
    hub.lookup = async () => ({ found: false, code: 'CARD_NOT_FOUND', message: 'This card is not registered' });
    await kiosk.cardTapped('0BADCAFE');
    expect(screenOf(kiosk.view())).toEqual({ name: 'error', message: messages.unknownCard });
  });

  it('serves a cached member offline, and refuses an uncached card offline with a clear message', async () => {
    await store.cacheMember(member);
    hub.connected = false;
    hub.lookup = async () => {
      throw new HubUnavailableError('not connected to the hub');
    };
    await kiosk.cardTapped('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', offline: true, balances: member.balances });
    await kiosk.cardTapped('0A0B0C0D');
    expect(screenOf(kiosk.view())).toEqual({ name: 'error', message: messages.offlineUnknownCard });
  });

  it('refuses cash without a member and records nothing', async () => {
    await expect(kiosk.cashStacked(10000)).rejects.toThrow(NoMemberError);
    expect(store.pending()).toEqual([]);
  });

  it('records a top-up durably, shows it at once, and prints the confirmed balance once the hub acknowledges', async () => {
    await kiosk.cardTapped('04A22B1C');
    const printedReceipt = printer.next();
    const printedView = new Promise<KioskView>((resolve) => kiosk.on('change', (view) => view.lastTopUp?.printed === true && resolve(view)));
    const entry = await kiosk.cashStacked(10000);

    // Durable before "done": a fresh store on the same file already holds the entry.
    const reopened = await KioskStore.open(join(dir, 'kiosk.json'));
    expect(reopened.pending().map((e) => e.tx.txId)).toEqual([entry.tx.txId]);
    expect(hub.published.map((e) => e.tx.txId)).toEqual([entry.tx.txId]);
    expect(kiosk.view()).toMatchObject({
      screen: { name: 'member', balances: { principalFen: 15000 }, message: messages.topUpDone },
      lastTopUp: { txId: entry.tx.txId, amountFen: 10000, state: 'pending', printed: false },
    });

    const confirmed = { ...member, version: 3, balances: { principalFen: 15000, bonusFen: 0, points: 30 } };
    const settled = await store.applyAck({ v: 1, txId: entry.tx.txId, seq: entry.tx.seq, status: 'ok', replay: false, member: confirmed });
    hub.emit('settled', settled);
    hub.emit('member', confirmed);

    const receipt = await printedReceipt;
    expect(receipt).toMatchObject({ amountFen: 10000, balances: confirmed.balances, pendingSync: false, txId: entry.tx.txId, cardUidMasked: '****2B1C' });
    expect(await printedView).toMatchObject({ pendingTransactions: 0, lastTopUp: { state: 'synced', printed: true } });
  });

  it('prints "pending sync" with the local balance when the hub does not answer in time', async () => {
    kiosk = new Kiosk({ deviceId: 'k1', storeName: 'S', store, hub, printer, logger: createLogger('test'), receiptAckWaitMs: 1 });
    await kiosk.cardTapped('04A22B1C');
    const printedReceipt = printer.next();
    await kiosk.cashStacked(2000);
    expect(await printedReceipt).toMatchObject({ pendingSync: true, balances: { principalFen: 7000 } });
  });

  it('keeps the top-up when the printer fails, and says the receipt failed', async () => {
    await kiosk.cardTapped('04A22B1C');
    printer.failWith = new Error('printer offline');
    const entry = await kiosk.cashStacked(1000);
    const changed = new Promise<KioskView>((resolve) => kiosk.on('change', (view) => view.lastTopUp?.printed === 'failed' && resolve(view)));
    hub.emit('settled', await store.applyAck({ v: 1, txId: entry.tx.txId, seq: 1, status: 'ok', replay: false, member }));
    expect((await changed).lastTopUp).toMatchObject({ txId: entry.tx.txId, printed: 'failed' });
    expect(store.entry(entry.tx.txId)?.state).toBe('synced');
  });
});
