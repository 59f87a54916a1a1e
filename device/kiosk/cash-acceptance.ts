import type { Logger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { KioskStore } from '../store/kiosk-store.ts';

export interface BillEvent {
  valueFen: number;
  billType: number;
  eventCounter: number;
}

/** What the kiosk needs from a bill validator (the ccTalk adapter, or a stand-in in unit tests). */
export interface CashAcceptorPort {
  enable(): Promise<void>;
  disable(): Promise<void>;
  stackEscrow(): Promise<void>;
  returnEscrow(): Promise<void>;
  /** The counter of the newest event the acceptor has seen, once it has polled the device. */
  readonly eventCounter: number | undefined;
  on(event: 'bill-escrow' | 'bill-stacked', listener: (bill: BillEvent) => void): unknown;
  on(event: 'device-reset', listener: () => void): unknown;
  on(event: 'fault', listener: (fault: { code: string; message: string }) => void): unknown;
  on(event: 'fault-cleared', listener: (fault: { code: string }) => void): unknown;
  on(event: 'events-lost', listener: (lost: { missed: number }) => void): unknown;
}

export interface CashAcceptanceOptions {
  acceptor: CashAcceptorPort;
  store: KioskStore;
  logger: Logger;
  /** Records the credit durably (with the bill's event counter) and tells the member. */
  credit(member: MemberSnapshot, amountFen: number, billEventCounter: number): Promise<void>;
  /** Whether to take a bill held in escrow (offline limits); a refused bill goes back to the member. */
  approve(member: MemberSnapshot, amountFen: number): boolean;
}

/**
 * Takes banknotes for one member at a time and credits each stacked bill exactly once.
 *
 * The member a bill belongs to is on disk before the validator is enabled, and stays the owner until the
 * next member's session opens — so a bill still in the transport when the member pressed "done", or one
 * stacked while the kiosk was restarting, is credited to the right member. Each credit stores the
 * validator's event counter in the same durable write, and the validator is started from that counter, so
 * a restart between "stacked" and "credited" credits the bill once, never twice.
 */
export class CashAcceptance {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: CashAcceptanceOptions) {
    const { acceptor } = options;
    acceptor.on('bill-escrow', (bill) => this.serially(() => this.onEscrow(bill)));
    acceptor.on('bill-stacked', (bill) => this.serially(() => this.onStacked(bill)));
    acceptor.on('device-reset', () => this.serially(() => this.rememberBaseline()));
  }

  /**
   * Call once the acceptor has started. Resolves when the bills it found stacked while the kiosk was down
   * are credited; on a kiosk's very first start, the acceptor's current counter becomes the baseline.
   */
  async started(): Promise<void> {
    await this.serially(async () => {
      if (this.options.store.cash.lastBillEventCounter === null) await this.rememberBaseline();
    });
  }

  async openFor(member: MemberSnapshot): Promise<void> {
    await this.options.acceptor.disable();
    await this.serially(() => this.options.store.openCashSession(member));
    await this.options.acceptor.enable();
  }

  async close(): Promise<void> {
    await this.options.acceptor.disable();
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch((error: Error) => this.options.logger.error({ err: error.message }, 'cash handling failed'));
    return next;
  }

  private async onEscrow(bill: BillEvent): Promise<void> {
    const owner = this.options.store.cash.session;
    if (owner && this.options.approve(owner.member, bill.valueFen)) return this.options.acceptor.stackEscrow();
    this.options.logger.warn({ valueFen: bill.valueFen, session: owner !== null }, 'bill in escrow not taken: returning it');
    await this.options.acceptor.returnEscrow();
  }

  private async onStacked(bill: BillEvent): Promise<void> {
    const owner = this.options.store.cash.session;
    if (!owner) {
      // Only possible if the validator stacked a bill before any member ever used this kiosk: the money is
      // in the box, so keep the counter moving and leave it to staff, who see this line and the cash count.
      this.options.logger.error({ valueFen: bill.valueFen, eventCounter: bill.eventCounter }, 'bill stacked with no member: not credited, count the cash box');
      await this.options.store.setBillEventBaseline(bill.eventCounter);
      return;
    }
    await this.options.credit(owner.member, bill.valueFen, bill.eventCounter);
  }

  private async rememberBaseline(): Promise<void> {
    const counter = this.options.acceptor.eventCounter;
    if (counter !== undefined) await this.options.store.setBillEventBaseline(counter);
  }
}
