import { EventEmitter } from 'node:events';
import { maskCardUid } from '../../shared/card.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Balances, MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { KioskStore, OutboxEntry } from '../store/kiosk-store.ts';
import { HubUnavailableError, type CardLookupResult } from '../sync/hub-link.ts';
import type { TopUpReceipt } from '../printer/receipt.ts';
import { messages, type Bilingual } from './messages.ts';

/** The parts of the hub link the kiosk flow uses (the real HubLink, or a stand-in in unit tests). */
export interface HubPort {
  readonly connected: boolean;
  on(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
  on(event: 'member', listener: (member: MemberSnapshot) => void): unknown;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
  off(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
  lookupCard(cardUid: string): Promise<CardLookupResult>;
  publish(entry: OutboxEntry): void;
}

export interface ReceiptPort {
  printTopUp(receipt: TopUpReceipt): Promise<void>;
}

export interface KioskOptions {
  deviceId: string;
  storeName: string;
  store: KioskStore;
  hub: HubPort;
  printer: ReceiptPort;
  logger: Logger;
  /** How long to wait for the hub's confirmation so the receipt can show the confirmed balance. */
  receiptAckWaitMs?: number;
}

export type Screen =
  | { name: 'idle'; message: Bilingual }
  | { name: 'checking'; message: Bilingual }
  | { name: 'member'; member: MemberSnapshot; balances: Balances; offline: boolean; message: Bilingual }
  | { name: 'error'; message: Bilingual };

export interface LastTopUp {
  txId: string;
  seq: number;
  amountFen: number;
  state: OutboxEntry['state'];
  printed: boolean | 'failed';
}

export interface KioskView {
  deviceId: string;
  storeName: string;
  hubConnected: boolean;
  pendingTransactions: number;
  screen: Screen;
  lastTopUp?: LastTopUp;
}

export class NoMemberError extends Error {
  constructor() {
    super(messages.noMember.en);
    this.name = 'NoMemberError';
  }
}

/**
 * The member's session at the kiosk: tap → member and balances → cash top-up → receipt.
 * Talks to hardware and the hub only through small ports, so the same flow runs on real devices,
 * on emulators and in tests.
 */
export class Kiosk extends EventEmitter<{ change: [KioskView] }> {
  private screen: Screen = { name: 'idle', message: messages.tapCard };
  private lastTopUp: LastTopUp | undefined;

  constructor(private readonly options: KioskOptions) {
    super();
    options.hub.on('settled', (entry) => this.onSettled(entry));
    options.hub.on('member', (member) => this.onMemberUpdate(member));
    // The screen shows whether the kiosk is online, so every change of the link redraws it.
    options.hub.on('connected', () => this.emit('change', this.view()));
    options.hub.on('disconnected', () => this.emit('change', this.view()));
  }

  view(): KioskView {
    return {
      deviceId: this.options.deviceId,
      storeName: this.options.storeName,
      hubConnected: this.options.hub.connected,
      pendingTransactions: this.options.store.pending().length,
      screen: this.screen,
      ...(this.lastTopUp ? { lastTopUp: this.lastTopUp } : {}),
    };
  }

  async cardTapped(cardUid: string): Promise<void> {
    const log = this.options.logger.child({ card: maskCardUid(cardUid) });
    this.lastTopUp = undefined;
    this.show({ name: 'checking', message: messages.checking });
    let lookup: CardLookupResult | undefined;
    try {
      lookup = await this.options.hub.lookupCard(cardUid);
    } catch (error) {
      if (!(error instanceof HubUnavailableError)) throw error;
      log.warn({ reason: error.message }, 'hub unavailable for card lookup; using the local cache');
    }
    if (lookup && !lookup.found) {
      log.info({ code: lookup.code }, 'card refused');
      return this.show({ name: 'error', message: lookup.code === 'CARD_NOT_FOUND' ? messages.unknownCard : messages.cardRefused });
    }
    const member = lookup?.member ?? this.options.store.cachedMember(cardUid);
    if (!member) return this.show({ name: 'error', message: messages.offlineUnknownCard });
    log.info({ memberId: member.memberId, offline: !lookup }, 'member identified');
    this.showMember(member, !lookup);
  }

  endSession(): void {
    this.lastTopUp = undefined;
    this.show({ name: 'idle', message: messages.tapCard });
  }

  /**
   * A bill was stacked for the current member. Resolves once the top-up is durable in the outbox — the
   * moment the kiosk may say "done". Publishing and printing follow without holding the member up.
   */
  async cashStacked(amountFen: number): Promise<OutboxEntry> {
    if (this.screen.name !== 'member') throw new NoMemberError();
    const member = this.screen.member;
    const entry = await this.options.store.recordCashTopUp({ deviceId: this.options.deviceId, member, amountFen });
    this.options.logger.info({ txId: entry.tx.txId, seq: entry.tx.seq, amountFen }, 'cash top-up recorded');
    this.lastTopUp = { txId: entry.tx.txId, seq: entry.tx.seq, amountFen, state: 'pending', printed: false };
    this.showMember(member, this.screen.offline, messages.topUpDone);
    this.options.hub.publish(entry);
    void this.printReceiptFor(entry, member);
    return entry;
  }

  private async printReceiptFor(entry: OutboxEntry, member: MemberSnapshot): Promise<void> {
    const settled = await this.waitUntilSettled(entry);
    const confirmed = settled.state === 'synced' ? this.options.store.cachedMember(member.cardUid) : undefined;
    const receipt: TopUpReceipt = {
      storeName: this.options.storeName,
      deviceId: this.options.deviceId,
      memberName: member.displayName,
      cardUidMasked: maskCardUid(member.cardUid),
      amountFen: entry.tx.body.amountFen,
      balances: this.options.store.displayBalances(confirmed ?? member),
      txId: entry.tx.txId,
      seq: entry.tx.seq,
      at: new Date(entry.tx.createdAt),
      pendingSync: settled.state === 'pending',
    };
    let printed: LastTopUp['printed'] = true;
    try {
      await this.options.printer.printTopUp(receipt);
    } catch (error) {
      printed = 'failed';
      this.options.logger.error({ txId: entry.tx.txId, err: (error as Error).message }, 'receipt not printed');
    }
    if (this.lastTopUp?.txId === entry.tx.txId) {
      this.lastTopUp = { ...this.lastTopUp, printed };
      this.emit('change', this.view());
    }
  }

  /** Resolves with the entry once the hub settles it, or as it stands after the wait. */
  private waitUntilSettled(entry: OutboxEntry): Promise<OutboxEntry> {
    const current = this.options.store.entry(entry.tx.txId) ?? entry;
    if (current.state !== 'pending') return Promise.resolve(current);
    return new Promise((resolve) => {
      const onSettled = (settled: OutboxEntry) => {
        if (settled.tx.txId !== entry.tx.txId) return;
        clearTimeout(timer);
        this.options.hub.off('settled', onSettled);
        resolve(settled);
      };
      const timer = setTimeout(() => {
        this.options.hub.off('settled', onSettled);
        resolve(this.options.store.entry(entry.tx.txId) ?? entry);
      }, this.options.receiptAckWaitMs ?? 2000);
      this.options.hub.on('settled', onSettled);
    });
  }

  private onSettled(entry: OutboxEntry): void {
    if (this.lastTopUp?.txId === entry.tx.txId) {
      this.lastTopUp = { ...this.lastTopUp, state: entry.state };
      if (entry.state === 'rejected' && this.screen.name === 'member') {
        this.showMember(this.screen.member, this.screen.offline, messages.topUpRejected);
        return;
      }
    }
    this.emit('change', this.view());
  }

  private onMemberUpdate(member: MemberSnapshot): void {
    if (this.screen.name !== 'member' || this.screen.member.memberId !== member.memberId) return;
    if (member.version < this.screen.member.version) return;
    this.showMember(member, false, this.screen.message);
  }

  private showMember(member: MemberSnapshot, offline: boolean, message: Bilingual = messages.insertCash): void {
    this.show({ name: 'member', member, balances: this.options.store.displayBalances(member), offline, message });
  }

  private show(screen: Screen): void {
    this.screen = screen;
    this.emit('change', this.view());
  }
}
