import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { HubUnavailableError, type CardLookupResult } from '../../device/sync/hub-link.ts';
import { Kiosk, type HubPort, type KioskView } from '../../device/kiosk/kiosk.ts';
import type { BillEvent } from '../../device/kiosk/cash-acceptance.ts';
import { messages } from '../../device/kiosk/messages.ts';
import type { TopUpReceipt } from '../../device/printer/receipt.ts';
import type { MemberNotice } from '../../shared/contract/payloads.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { StandInAcceptor } from '../helpers/stand-in-acceptor.ts';

/**
 * The member flow against stand-ins for the hub link, the printer and the bill validator (their real
 * counterparts are covered in the gateway, printer, bill-validator and end-to-end tests); the store is
 * the real durable one.
 */
const member = memberSnapshot();

class StandInHub extends EventEmitter implements HubPort {
  connected = true;
  lookup: (key: { cardUid: string } | { cardNumber: string }) => Promise<CardLookupResult> = async () => ({ found: true, member });
  published: OutboxEntry[] = [];
  lookupCard(key: { cardUid: string } | { cardNumber: string }) {
    return this.lookup(key);
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
let acceptor: StandInAcceptor;
let kiosk: Kiosk;

let clock = new Date();

function newKiosk(receiptAckWaitMs = 60_000): Kiosk {
  return new Kiosk({
    deviceId: 'k1', storeName: '测试店 Test store', store, hub, printer, cashAcceptor: acceptor, logger: createLogger('test'), receiptAckWaitMs,
    offlineLimits: { perTransactionFen: 10_000, perCardPerDayFen: 15_000, perKioskTotalFen: 100_000, maxOfflineHours: 24 },
    now: () => clock,
  });
}

beforeEach(async () => {
  // The outbox stamps entries with the real time, so the kiosk's clock starts there too.
  clock = new Date();
  dir = await mkdtemp(join(tmpdir(), 'kiosk-flow-'));
  store = await KioskStore.open(join(dir, 'kiosk.json'));
  hub = new StandInHub();
  printer = new StandInPrinter();
  acceptor = new StandInAcceptor(7);
  kiosk = newKiosk();
  await kiosk.cashAcceptorStarted();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const screenOf = (view: KioskView) => view.screen;
const tap = (uid: string) => kiosk.cardTapped({ uid, verification: 'uid-only' });
const bill = (valueFen: number, eventCounter: number): BillEvent => ({ valueFen, billType: 4, eventCounter });
/** Resolves with the first kiosk view that matches, as the member's screen would show it. */
const viewWhere = (matches: (view: KioskView) => boolean) =>
  new Promise<KioskView>((resolve) => kiosk.on('change', (view) => matches(view) && resolve(view)));

describe('kiosk member flow', () => {
  it('shows the member and balances for a tapped card, and only then takes banknotes for them', async () => {
    expect(store.cash.lastBillEventCounter).toBe(7);
    await tap('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', member, balances: member.balances, offline: false, identifiedBy: 'nfc', canSpendStoredValue: true, message: messages.insertCash });
    expect(acceptor.enabled).toBe(true);
    expect(store.cash.session?.member.memberId).toBe(member.memberId);
  });

  it("shows the hub's notices with the member, keeps them through an ack's snapshot, and takes a fresh set", async () => {
    const notices: MemberNotice[] = [
      { kind: 'tier_progress', zh: '再消费¥1200.00升级金卡', en: 'Spend ¥1200.00 more to reach Gold' },
      { kind: 'points_expiring', zh: '您有 300 积分将于 12月31日 到期', en: '300 points expire on 31 Dec' },
    ];
    hub.lookup = async () => ({ found: true, member: { ...member, notices } });
    await tap('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', member: { notices } });
    // An ack's snapshot says nothing about notices: the balances change, the notices stay.
    const balances = { ...member.balances, principalFen: member.balances.principalFen + 10_000 };
    hub.emit('member', { ...member, balances, version: member.version + 1 });
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', balances, member: { version: member.version + 1, notices } });
    hub.emit('member', { ...member, balances, version: member.version + 2, notices: [] });
    expect(screenOf(kiosk.view())).toMatchObject({ member: { version: member.version + 2, notices: [] } });
  });

  it('shows the cached notices when it serves a member offline', async () => {
    const notices: MemberNotice[] = [{ kind: 'tier_at_risk', zh: '再消费¥5000.00保级金卡（12月31日前）', en: 'Spend ¥5000.00 more by 31 Dec to keep Gold' }];
    await store.cacheMember({ ...member, notices });
    hub.connected = false;
    hub.lookup = async () => {
      throw new HubUnavailableError('not connected to the hub');
    };
    await tap('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', offline: true, member: { notices } });
  });

  it('refuses a card the reader could not verify without asking the hub, and takes no cash', async () => {
    const message = { zh: '此卡无法验证，请到柜台咨询', en: 'This card could not be verified — please ask at the counter' };
    hub.lookup = async () => {
      throw new Error('the hub must not be asked about a refused card');
    };
    await kiosk.cardTapped({ uid: '04A22B1C', verification: 'refused', refusal: { code: 'not-verified', message } });
    expect(screenOf(kiosk.view())).toEqual({ name: 'error', message });
    expect(acceptor.enabled).toBe(false);
  });

  it('tells the member an unknown card is not registered', async () => {
    hub.lookup = async () => ({ found: false, code: 'CARD_NOT_FOUND', message: 'This card is not registered' });
    await tap('0BADCAFE');
    expect(screenOf(kiosk.view())).toEqual({ name: 'error', message: messages.unknownCard });
    expect(acceptor.enabled).toBe(false);
  });

  it('identifies a magnetic stripe swipe by card number, without the right to spend stored value', async () => {
    await kiosk.cardSwiped('6225000000001234');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', identifiedBy: 'magstripe', canSpendStoredValue: false });
  });

  it('serves a cached member offline, and refuses an uncached card offline with a clear message', async () => {
    await store.cacheMember({ ...member, cardNumber: '6225000000001234' });
    hub.connected = false;
    hub.lookup = async () => {
      throw new HubUnavailableError('not connected to the hub');
    };
    await tap('04A22B1C');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', offline: true, balances: member.balances });
    await kiosk.cardSwiped('6225000000001234');
    expect(screenOf(kiosk.view())).toMatchObject({ name: 'member', offline: true, identifiedBy: 'magstripe' });
    await tap('0A0B0C0D');
    expect(screenOf(kiosk.view())).toEqual({ name: 'error', message: messages.offlineUnknownCard });
  });

  it('returns a bill in escrow when no member session is open, and stacks it for the member on screen', async () => {
    acceptor.emit('bill-escrow', bill(10000, 8));
    await kiosk.cashAcceptorStarted();
    expect(acceptor.routed).toEqual(['return']);
    await tap('04A22B1C');
    acceptor.emit('bill-escrow', bill(10000, 9));
    await kiosk.cashAcceptorStarted();
    expect(acceptor.routed).toEqual(['return', 'stack']);
    expect(store.pending()).toEqual([]);
  });

  it('records a stacked bill durably with its event counter, shows it at once, and prints the confirmed balance once the hub acknowledges', async () => {
    await tap('04A22B1C');
    const printedReceipt = printer.next();
    const printedView = viewWhere((view) => view.lastTopUp?.printed === true);
    const doneView = viewWhere((view) => view.lastTopUp !== undefined);
    acceptor.emit('bill-stacked', bill(10000, 8));
    const { lastTopUp } = await doneView;
    const entry = store.entry(lastTopUp!.txId)!;

    // Durable before "done": a fresh store on the same file already holds the entry and the counter.
    const reopened = await KioskStore.open(join(dir, 'kiosk.json'));
    expect(reopened.pending().map((e) => e.tx.txId)).toEqual([entry.tx.txId]);
    expect(reopened.cash.lastBillEventCounter).toBe(8);
    expect(hub.published.map((e) => e.tx.txId)).toEqual([entry.tx.txId]);
    expect(kiosk.view()).toMatchObject({
      screen: { name: 'member', balances: { principalFen: 15000 }, message: messages.topUpDone },
      lastTopUp: { amountFen: 10000, state: 'pending', printed: false },
    });

    const confirmed = { ...member, version: 3, balances: { principalFen: 15000, bonusFen: 0, points: 30 } };
    const settled = await store.applyAck({ v: 1, txId: entry.tx.txId, seq: entry.tx.seq, status: 'ok', replay: false, member: confirmed });
    hub.emit('settled', settled);
    hub.emit('member', confirmed);

    const receipt = await printedReceipt;
    expect(receipt).toMatchObject({ amountFen: 10000, balances: confirmed.balances, pendingSync: false, txId: entry.tx.txId, cardUidMasked: '****2B1C' });
    expect(await printedView).toMatchObject({ pendingTransactions: 0, lastTopUp: { state: 'synced', printed: true } });
  });

  it('credits a bill stacked after the member pressed done to that member, not to nobody', async () => {
    await tap('04A22B1C');
    await kiosk.endSession();
    expect(acceptor.enabled).toBe(false);
    acceptor.emit('bill-stacked', bill(2000, 8));
    await kiosk.cashAcceptorStarted();
    expect(store.pending().map((e) => e.tx.body)).toEqual([expect.objectContaining({ memberId: member.memberId, amountFen: 2000 })]);
  });

  it('prints "pending sync" with the local balance when the hub does not answer in time', async () => {
    kiosk = newKiosk(1);
    await tap('04A22B1C');
    const printedReceipt = printer.next();
    await kiosk.creditCash(member, 2000);
    expect(await printedReceipt).toMatchObject({ pendingSync: true, balances: { principalFen: 7000 } });
  });

  it('keeps the top-up when the printer fails, and says the receipt failed', async () => {
    await tap('04A22B1C');
    printer.failWith = new Error('printer offline');
    const failed = viewWhere((view) => view.lastTopUp?.printed === 'failed');
    const entry = await kiosk.creditCash(member, 1000);
    hub.emit('settled', await store.applyAck({ v: 1, txId: entry.tx.txId, seq: 1, status: 'ok', replay: false, member }));
    expect((await failed).lastTopUp).toMatchObject({ txId: entry.tx.txId, printed: 'failed' });
    expect(store.entry(entry.tx.txId)?.state).toBe('synced');
  });

  it('tells the member when the validator is out of service, and takes it back when it recovers', async () => {
    await tap('04A22B1C');
    acceptor.emit('fault', { code: 'jam', message: 'bill jammed in the transport' });
    expect(kiosk.view()).toMatchObject({ cashFault: { code: 'jam', message: messages.cashOutOfService }, screen: { message: messages.cashOutOfService } });
    acceptor.emit('fault-cleared', { code: 'jam' });
    expect(kiosk.view()).toMatchObject({ cashFault: null, screen: { message: messages.insertCash } });
  });

  it('asks for a staff check when the validator lost events, instead of guessing money', async () => {
    await tap('04A22B1C');
    acceptor.emit('events-lost', { missed: 2 });
    expect(kiosk.view()).toMatchObject({ cashFault: { code: 'events-lost', message: messages.cashCheckNeeded } });
    expect(store.pending()).toEqual([]);
  });

  it('offers a failed receipt again and prints it once the printer is back', async () => {
    kiosk = newKiosk(1);
    await tap('04A22B1C');
    printer.failWith = new Error('paper end');
    const failed = viewWhere((view) => view.lastTopUp?.printed === 'failed');
    const entry = await kiosk.creditCash(member, 5000);
    await failed;
    printer.failWith = undefined;
    expect(await kiosk.reprintLastReceipt()).toBe(true);
    expect(printer.printed).toEqual([expect.objectContaining({ txId: entry.tx.txId, amountFen: 5000 })]);
    expect(kiosk.view().lastTopUp).toMatchObject({ printed: true });
    expect(await kiosk.reprintLastReceipt()).toBe(false);
  });

  describe('offline', () => {
    const goOffline = async () => {
      await store.cacheMember(member);
      hub.connected = false;
      hub.lookup = async () => {
        throw new HubUnavailableError('not connected to the hub');
      };
      hub.emit('disconnected');
    };

    it('takes bills within the offline limits and returns the one that would exceed them, saying why', async () => {
      await goOffline();
      await tap('04A22B1C');
      acceptor.emit('bill-escrow', bill(10_000, 8));
      acceptor.emit('bill-stacked', bill(10_000, 8));
      acceptor.emit('bill-escrow', bill(10_000, 9));
      await kiosk.cashAcceptorStarted();
      expect(acceptor.routed).toEqual(['stack', 'return']);
      expect(kiosk.view().screen).toMatchObject({ message: { zh: '网络中断，本卡今日离线充值已达上限 (¥150.00)' } });
      expect(store.pending().map((e) => e.tx.body.amountFen)).toEqual([10_000]);
    });

    it('stops serving members from the cache once offline longer than allowed', async () => {
      await goOffline();
      clock = new Date(clock.getTime() + 25 * 3_600_000);
      await tap('04A22B1C');
      expect(kiosk.view().screen).toMatchObject({ name: 'error', message: { en: 'The network has been down too long. Please go to the counter.' } });
      expect(acceptor.enabled).toBe(false);
    });
  });
});
