import { EventEmitter } from 'node:events';
import { isCardNumber, maskCardNumber, maskCardUid } from '../../shared/card.ts';
import type { Logger } from '../../shared/logger.ts';
import type { Balances, MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { KioskStore, OutboxEntry } from '../store/kiosk-store.ts';
import { HubUnavailableError, type CardLookupResult } from '../sync/hub-link.ts';
import type { CardTap } from '../nfc/card-reader.ts';
import { CashAcceptance, type CashAcceptorPort } from './cash-acceptance.ts';
import { printTopUpReceipt, type ReceiptPort } from './receipt-job.ts';
import { DEFAULT_OFFLINE_LIMITS, type OfflineLimits } from '../../shared/offline-limits.ts';
import { mayServeOffline, mayTopUpOffline } from './offline-limits.ts';
import { messages, offerMessage, type Bilingual } from './messages.ts';
import { priceBill, sessionOffer } from './session-pricing.ts';
import type { TopUpOffer } from '../../shared/rules/session-topup.ts';

export type { ReceiptPort };

type LookupKey = { cardUid: string } | { cardNumber: string };

/** The parts of the hub link the kiosk flow uses (the real HubLink, or a stand-in in unit tests). */
export interface HubPort {
  readonly connected: boolean;
  on(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
  on(event: 'member', listener: (member: MemberSnapshot) => void): unknown;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
  off(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
  lookupCard(key: LookupKey): Promise<CardLookupResult>;
  publish(entry: OutboxEntry): void;
}

export interface KioskOptions {
  deviceId: string;
  storeName: string;
  store: KioskStore;
  hub: HubPort;
  printer: ReceiptPort;
  /** The bill validator; without one the kiosk shows balances but takes no cash. */
  cashAcceptor?: CashAcceptorPort;
  logger: Logger;
  /** How long to wait for the hub's confirmation so the receipt can show the confirmed balance. */
  receiptAckWaitMs?: number;
  offlineLimits?: OfflineLimits;
  /** For tests of time-dependent limits. */
  now?: () => Date;
}

/**
 * How the member was identified. A magnetic stripe is trivially copied, so a member identified by one
 * may check balances and top up, but never spend stored value without a PIN.
 */
export type IdentifiedBy = 'nfc' | 'magstripe';

/** The top-up bonus of the member's cash session as the screen shows it ("充100送20 · 再投¥100可送50"). */
export interface OfferView extends TopUpOffer {
  message: Bilingual;
}

export type Screen =
  | { name: 'idle'; message: Bilingual }
  | { name: 'checking'; message: Bilingual }
  | {
      name: 'member';
      member: MemberSnapshot;
      balances: Balances;
      offline: boolean;
      identifiedBy: IdentifiedBy;
      canSpendStoredValue: boolean;
      message: Bilingual;
      /** Absent when this kiosk takes no cash for the member or has no program rules (or no bracket exists). */
      offer?: OfferView;
    }
  | { name: 'error'; message: Bilingual };

export interface LastTopUp {
  txId: string;
  seq: number;
  amountFen: number;
  /** The bonus and bonus points this bill earned (the hub re-evaluates it with the same rules). */
  bonusFen: number;
  bonusPoints: number;
  state: OutboxEntry['state'];
  printed: boolean | 'failed';
}

/** A bill validator condition the member and staff must know about; cleared when the device recovers. */
export interface CashFault {
  code: string;
  message: Bilingual;
}

export interface KioskView {
  deviceId: string;
  storeName: string;
  hubConnected: boolean;
  pendingTransactions: number;
  acceptsCash: boolean;
  cashFault: CashFault | null;
  screen: Screen;
  lastTopUp?: LastTopUp;
}

/**
 * The member's session at the kiosk: tap or swipe → member and balances → banknotes → receipt.
 * Talks to hardware and the hub only through small ports, so the same flow runs on real devices,
 * on emulators and in tests.
 */
export class Kiosk extends EventEmitter<{ change: [KioskView] }> {
  private screen: Screen = { name: 'idle', message: messages.tapCard };
  private lastTopUp: LastTopUp | undefined;
  private lastTopUpMember: MemberSnapshot | undefined;
  private cashFault: CashFault | null = null;
  private readonly cash: CashAcceptance | undefined;
  private offlineLimits: OfflineLimits;
  /**
   * When the hub last answered. Kept in memory: a kiosk restarted while offline starts its offline clock
   * again, which the per-card and per-kiosk caps (computed from the durable outbox) still bound.
   */
  private lastHubContact: Date;
  private readonly now: () => Date;

  constructor(private readonly options: KioskOptions) {
    super();
    this.now = options.now ?? (() => new Date());
    this.offlineLimits = options.offlineLimits ?? DEFAULT_OFFLINE_LIMITS;
    this.lastHubContact = this.now();
    options.hub.on('connected', () => (this.lastHubContact = this.now()));
    options.hub.on('disconnected', () => (this.lastHubContact = this.now()));
    options.hub.on('settled', (entry) => this.onSettled(entry));
    options.hub.on('member', (member) => this.onMemberUpdate(member));
    // The screen shows whether the kiosk is online, so every change of the link redraws it.
    options.hub.on('connected', () => this.emit('change', this.view()));
    options.hub.on('disconnected', () => this.emit('change', this.view()));
    if (options.cashAcceptor) {
      this.cash = new CashAcceptance({
        acceptor: options.cashAcceptor,
        store: options.store,
        logger: options.logger.child({ component: 'cash' }),
        credit: (member, amountFen, billEventCounter) => this.creditCash(member, amountFen, billEventCounter).then(() => undefined),
        approve: (member, amountFen) => this.approveBill(member, amountFen),
      });
      this.followCashFaults(options.cashAcceptor);
    }
  }

  /** New limits from the hub's configuration; they apply from the next bill on. */
  applyOfflineLimits(limits: OfflineLimits): void {
    this.offlineLimits = limits;
  }

  /** Online every bill is taken; offline only within the limits, and the member is told why not. */
  private approveBill(member: MemberSnapshot, amountFen: number): boolean {
    if (this.options.hub.connected) return true;
    const unconfirmed = this.options.store.pending().map(({ tx }) => ({ cardUid: tx.body.cardUid, amountFen: tx.body.amountFen, createdAt: tx.createdAt }));
    const decision = mayTopUpOffline(this.offlineLimits, { cardUid: member.cardUid, amountFen, lastHubContact: this.lastHubContact, now: this.now() }, unconfirmed);
    if (decision.ok) return true;
    this.options.logger.warn({ reason: decision.reason, amountFen }, 'bill refused by the offline limits');
    this.readerMessage(decision.message);
    return false;
  }

  /** Call once the bill validator has started (see CashAcceptance.started). */
  async cashAcceptorStarted(): Promise<void> {
    await this.cash?.started();
  }

  view(): KioskView {
    return {
      deviceId: this.options.deviceId,
      storeName: this.options.storeName,
      hubConnected: this.options.hub.connected,
      pendingTransactions: this.options.store.pending().length,
      acceptsCash: this.cash !== undefined,
      cashFault: this.cashFault,
      screen: this.screen,
      ...(this.lastTopUp ? { lastTopUp: this.lastTopUp } : {}),
    };
  }

  /** An NFC card was read. A card the reader refused (forged, copied, unreadable) never reaches the hub. */
  async cardTapped(tap: Pick<CardTap, 'uid' | 'verification' | 'refusal'>): Promise<void> {
    if (tap.verification === 'refused') {
      this.options.logger.warn({ card: maskCardUid(tap.uid), code: tap.refusal?.code }, 'card refused by the reader');
      return this.endWith({ name: 'error', message: tap.refusal?.message ?? messages.cardRefused });
    }
    await this.identify({ cardUid: tap.uid }, 'nfc');
  }

  /** A magnetic stripe was swiped; its card number identifies the member. Bank cards are not asked about. */
  async cardSwiped(cardNumber: string): Promise<void> {
    if (!isCardNumber(cardNumber)) return this.readerMessage(messages.notMemberCard);
    await this.identify({ cardNumber }, 'magstripe');
  }

  /** Shows a reader's complaint (bad swipe, phone on the reader) without losing the member's session. */
  readerMessage(message: Bilingual): void {
    if (this.screen.name === 'member') return this.showMember(this.screen.member, this.screen.offline, this.screen.identifiedBy, message);
    this.show({ name: 'error', message });
  }

  async endSession(): Promise<void> {
    await this.endWith({ name: 'idle', message: messages.tapCard });
  }

  /**
   * Records a cash top-up for a member and resolves once it is durable in the outbox — the moment the
   * kiosk may say "done". Publishing and printing follow without holding the member up.
   */
  async creditCash(member: MemberSnapshot, amountFen: number, billEventCounter?: number): Promise<OutboxEntry> {
    const { store, deviceId, logger, hub } = this.options;
    const at = this.now();
    const pricing = priceBill(store.program, this.sessionOf(member), amountFen, at);
    const entry = await store.recordCashTopUp({
      deviceId, member, amountFen, at,
      ...(billEventCounter === undefined ? {} : { billEventCounter }),
      ...(pricing ? { pricing } : {}),
    });
    logger.info({ txId: entry.tx.txId, seq: entry.tx.seq, amountFen, billEventCounter, pricing }, 'cash top-up recorded');
    this.lastTopUp = {
      txId: entry.tx.txId, seq: entry.tx.seq, amountFen,
      bonusFen: pricing?.bonusFen ?? 0, bonusPoints: pricing?.bonusPoints ?? 0,
      state: 'pending', printed: false,
    };
    this.lastTopUpMember = member;
    if (this.screen.name === 'member' && this.screen.member.memberId === member.memberId) {
      this.showMember(this.screen.member, this.screen.offline, this.screen.identifiedBy, messages.topUpDone);
    } else {
      this.emit('change', this.view());
    }
    hub.publish(entry);
    void this.printReceipt(entry, member);
    return entry;
  }

  /** Newer program rules are in force: the bonus on screen is recomputed with them. */
  programChanged(): void {
    if (this.screen.name === 'member') this.showMember(this.screen.member, this.screen.offline, this.screen.identifiedBy, this.screen.message);
  }

  /** The member asked for the receipt again after the printer failed (out of paper, cover open…). */
  async reprintLastReceipt(): Promise<boolean> {
    const last = this.lastTopUp;
    const entry = last && this.options.store.entry(last.txId);
    if (!last || !entry || !this.lastTopUpMember || last.printed !== 'failed') return false;
    this.lastTopUp = { ...last, printed: false };
    this.emit('change', this.view());
    await this.printReceipt(entry, this.lastTopUpMember);
    return this.lastTopUp?.printed === true;
  }

  /**
   * Validator faults reach the member's screen: a jam or a full cash box means "contact staff", and lost
   * events mean some bills may not be credited, which staff must check against the cash box.
   */
  private followCashFaults(acceptor: CashAcceptorPort): void {
    const setFault = (fault: CashFault | null) => {
      this.cashFault = fault;
      if (this.screen.name === 'member') {
        const message = fault?.message ?? messages.insertCash;
        return this.showMember(this.screen.member, this.screen.offline, this.screen.identifiedBy, message);
      }
      this.emit('change', this.view());
    };
    acceptor.on('fault', ({ code }) => {
      if (code !== 'unknown-bill-stacked') return setFault({ code, message: messages.cashOutOfService });
      this.options.logger.error({ code }, 'a bill was stacked that the validator could not value: count the cash box');
      setFault({ code, message: messages.cashCheckNeeded });
    });
    acceptor.on('fault-cleared', ({ code }) => {
      if (this.cashFault?.code === code) setFault(null);
    });
    acceptor.on('events-lost', ({ missed }) => {
      this.options.logger.error({ missed }, 'bill validator events lost: count the cash box against the credits');
      setFault({ code: 'events-lost', message: messages.cashCheckNeeded });
    });
  }

  private async identify(key: LookupKey, identifiedBy: IdentifiedBy): Promise<void> {
    const log = this.options.logger.child('cardUid' in key ? { card: maskCardUid(key.cardUid) } : { cardNumber: maskCardNumber(key.cardNumber) });
    this.lastTopUp = undefined;
    this.show({ name: 'checking', message: messages.checking });
    await this.closeCash();
    let lookup: CardLookupResult | undefined;
    try {
      lookup = await this.options.hub.lookupCard(key);
      this.lastHubContact = this.now();
    } catch (error) {
      if (!(error instanceof HubUnavailableError)) throw error;
      log.warn({ reason: error.message }, 'hub unavailable for card lookup; using the local cache');
    }
    if (lookup && !lookup.found) {
      log.info({ code: lookup.code }, 'card refused by the hub');
      return this.show({ name: 'error', message: lookup.code === 'CARD_NOT_FOUND' ? messages.unknownCard : messages.cardRefused });
    }
    if (!lookup) {
      const served = mayServeOffline(this.offlineLimits, this.lastHubContact, this.now());
      if (!served.ok) return this.show({ name: 'error', message: served.message });
    }
    const member = lookup?.member ?? this.cachedMember(key);
    if (!member) return this.show({ name: 'error', message: messages.offlineUnknownCard });
    log.info({ memberId: member.memberId, offline: !lookup, identifiedBy }, 'member identified');
    // "Insert banknotes" appears only once the validator really takes them for this member.
    const acceptingCash = await this.openCashFor(member);
    const message = this.cashFault?.message ?? (acceptingCash ? messages.insertCash : messages.noCashHere);
    this.showMember(member, !lookup, identifiedBy, message);
  }

  private async openCashFor(member: MemberSnapshot): Promise<boolean> {
    if (!this.cash) return false;
    try {
      await this.cash.openFor(member);
      return true;
    } catch (error) {
      this.options.logger.error({ err: (error as Error).message }, 'bill validator could not be enabled; no cash this session');
      return false;
    }
  }

  private cachedMember(key: LookupKey): MemberSnapshot | undefined {
    const { store } = this.options;
    return 'cardUid' in key ? store.cachedMember(key.cardUid) : store.cachedMemberByNumber(key.cardNumber);
  }

  private async endWith(screen: Screen): Promise<void> {
    this.lastTopUp = undefined;
    this.show(screen);
    await this.closeCash();
  }

  private async closeCash(): Promise<void> {
    try {
      await this.cash?.close();
    } catch (error) {
      // An unreachable validator cannot take bills either; its health shows the fault.
      this.options.logger.warn({ err: (error as Error).message }, 'bill validator could not be disabled');
    }
  }

  private async printReceipt(entry: OutboxEntry, member: MemberSnapshot): Promise<void> {
    const { storeName, deviceId, store, hub, printer, logger } = this.options;
    const printed = await printTopUpReceipt({
      entry, member, storeName, deviceId, store, hub, printer, logger,
      ackWaitMs: this.options.receiptAckWaitMs ?? 2000,
    });
    if (this.lastTopUp?.txId === entry.tx.txId) {
      this.lastTopUp = { ...this.lastTopUp, printed: printed || 'failed' };
      this.emit('change', this.view());
    }
  }

  private onSettled(entry: OutboxEntry): void {
    if (this.lastTopUp?.txId === entry.tx.txId) {
      this.lastTopUp = { ...this.lastTopUp, state: entry.state };
      if (entry.state === 'rejected' && this.screen.name === 'member') {
        return this.showMember(this.screen.member, this.screen.offline, this.screen.identifiedBy, messages.topUpRejected);
      }
    }
    this.emit('change', this.view());
  }

  private onMemberUpdate(member: MemberSnapshot): void {
    if (this.screen.name !== 'member' || this.screen.member.memberId !== member.memberId) return;
    if (member.version < this.screen.member.version) return;
    // A snapshot without notices (a transaction ack) says nothing about them: the ones on screen stay.
    const { notices } = this.screen.member;
    const shown = member.notices === undefined && notices !== undefined ? { ...member, notices } : member;
    this.showMember(shown, false, this.screen.identifiedBy, this.screen.message);
  }

  private showMember(member: MemberSnapshot, offline: boolean, identifiedBy: IdentifiedBy, message: Bilingual): void {
    const offer = this.offerFor(member);
    this.show({
      name: 'member',
      member,
      balances: this.options.store.displayBalances(member),
      offline,
      identifiedBy,
      canSpendStoredValue: identifiedBy === 'nfc',
      message,
      ...(offer ? { offer } : {}),
    });
  }

  /** The member's cash session on disk, if bills are being credited to them. */
  private sessionOf(member: MemberSnapshot) {
    const session = this.options.store.cash.session;
    return session?.member.memberId === member.memberId ? session : undefined;
  }

  private offerFor(member: MemberSnapshot): OfferView | undefined {
    const session = this.sessionOf(member);
    // No promise the validator cannot keep: nothing is offered while it is out of service.
    if (!this.cash || !session || this.cashFault) return undefined;
    const offer = sessionOffer(this.options.store.program, session, this.now());
    const message = offer && offerMessage(offer);
    return offer && message ? { ...offer, message } : undefined;
  }

  private show(screen: Screen): void {
    this.screen = screen;
    this.emit('change', this.view());
  }
}
