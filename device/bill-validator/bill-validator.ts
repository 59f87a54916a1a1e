import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { Backoff, type BackoffOptions } from '../hardware/backoff.ts';
import { initialHealth, type PeripheralFault, type PeripheralHealth } from '../health/peripheral-health.ts';
import {
  BillStatus,
  SELF_CHECK_CLEARED,
  newEvents,
  parseEventBuffer,
  statusMeaning,
  type BufferedEvent,
} from './bill-events.ts';
import { BILL_TYPES, CNY_COUNTRY, billValueFen, inhibitMask, parseBillId, parseScalingFactor, type BillTypeInfo } from './bill-table.ts';
import { BILL_VALIDATOR_ADDRESS, Header } from './cctalk-headers.ts';
import { CctalkBusyError, CctalkMaster, CctalkTimeoutError } from './cctalk-master.ts';

/** The bills a kiosk takes unless told otherwise: ¥10, ¥20, ¥50, ¥100. */
export const DEFAULT_ACCEPTED_BILLS_FEN: readonly number[] = [1000, 2000, 5000, 10000];

export interface BillValidatorOptions {
  /** Serial device, e.g. /dev/ttyUSB0 or a udev symlink. */
  path: string;
  baudRate?: number;
  /** ccTalk address of the validator (40 by default). */
  address?: number;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
  retries?: number;
  logger?: Logger;
  /** Bill values (fen) to enable; types of any other value stay inhibited in the device. */
  acceptedBills?: readonly number[];
  /**
   * true: a bill held in escrow is announced with 'bill-escrow' and waits for stackEscrow() or
   * returnEscrow(). false (default): the adapter stacks an accepted escrowed bill itself.
   */
  escrow?: boolean;
  /**
   * The event counter of the last bill the host credited, from its durable store. Stacked events after it
   * that are still in the device's buffer are emitted at start (they happened while the kiosk was down);
   * without it the device's current counter is the baseline and nothing old is emitted.
   */
  lastEventCounter?: number;
  /** Delays for reopening the port after it went away. */
  reopen?: BackoffOptions;
}

export interface BillValidatorIdentity {
  /** Equipment category, "Bill Validator" for the right device. */
  category: string;
  manufacturer: string;
  productCode: string;
  /** Header 242's three bytes read LSB first (byte order unverified for some makes). */
  serialNumber: number;
  softwareRevision: string;
}

export interface BillEvent {
  valueFen: number;
  billType: number;
  /** The device's counter for this event: persist it with the credit, pass it back as lastEventCounter. */
  eventCounter: number;
}

export interface BillValidatorEvents {
  'bill-escrow': [BillEvent];
  /** Money in the cash box: credit it exactly once, keyed by eventCounter. */
  'bill-stacked': [BillEvent];
  'bill-returned': [{ billType?: number }];
  'bill-rejected': [{ reason: string }];
  /**
   * A device condition (jam, stacker-*, no-reply, unreachable) that ends with 'fault-cleared'; or, for
   * code 'unknown-bill-stacked', a one-off incident (a bill in the box that cannot be valued — count the box).
   */
  fault: [{ code: string; message: string }];
  'fault-cleared': [{ code: string }];
  /** More events than the device buffers happened between two polls: their money is unknown. */
  'events-lost': [{ missed: number }];
  'device-reset': [Record<string, never>];
  disconnected: [];
  connected: [];
  health: [PeripheralHealth];
}

export class BillRouteError extends Error {
  constructor(readonly reason: 'escrow-empty' | 'route-failed', message: string) {
    super(message);
    this.name = 'BillRouteError';
  }
}

export class BillValidatorUnavailableError extends Error {
  constructor(path: string) {
    super(`bill validator at ${path} is not connected`);
    this.name = 'BillValidatorUnavailableError';
  }
}

const ROUTE_RETURN = 0;
const ROUTE_STACK = 1;
const ROUTE_ESCROW_EMPTY = 254;
const ESCROW = 1;
const STACKED = 0;

function ascii(data: Buffer): string {
  return data.toString('latin1').trim();
}

/**
 * A ccTalk bill validator: identifies it, enables the accepted bills, polls its event buffer and turns
 * events into 'bill-stacked' (credit), escrow, reject and fault events. Money comes only from the event
 * buffer — never from a command's reply — so a repeated command can never credit twice.
 */
export class BillValidator extends EventEmitter<BillValidatorEvents> {
  identity: BillValidatorIdentity | null = null;
  billTable: BillTypeInfo[] = [];

  private readonly path: string;
  private readonly address: number;
  private readonly pollIntervalMs: number;
  private readonly escrowMode: boolean;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private accepted: number[];
  private lastCounter: number | undefined;
  private wantEnabled = false;
  private escrowBill: BillEvent | null = null;
  private needsSetup = false;
  private running = false;
  private master: CctalkMaster | null = null;
  private work: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly faults = new Map<string, PeripheralFault>();
  private readonly counters: Record<string, number> = {};
  private retiredRetries = 0;
  private stackedSinceEmptied = 0;
  private record: PeripheralHealth;

  constructor(private readonly options: BillValidatorOptions) {
    super();
    const { lastEventCounter } = options;
    if (lastEventCounter !== undefined && !(Number.isInteger(lastEventCounter) && lastEventCounter >= 0 && lastEventCounter <= 255)) {
      throw new RangeError(`lastEventCounter must be 0..255, got ${lastEventCounter}`);
    }
    this.path = options.path;
    this.address = options.address ?? BILL_VALIDATOR_ADDRESS;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.escrowMode = options.escrow ?? false;
    this.logger = options.logger ?? createLogger('bill-validator');
    this.backoff = new Backoff(options.reopen);
    this.accepted = [...(options.acceptedBills ?? DEFAULT_ACCEPTED_BILLS_FEN)];
    this.lastCounter = lastEventCounter;
    this.record = initialHealth('bill-validator', options.path);
  }

  /**
   * Opens the port, identifies the device, sets up its inhibits (master inhibit on until enable()) and
   * reads the event buffer once — so events missed while the kiosk was down are emitted before this
   * resolves — then polls. Fails if the first connection fails; after that, losses are retried forever.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error('bill validator already started');
    this.running = true;
    try {
      await this.connect();
    } catch (error) {
      this.running = false;
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    const master = this.master;
    this.master = null;
    // Closing first aborts a request waiting for its timeout, so stop() does not wait out the retries.
    await master?.close();
    await this.work;
    this.updateHealth({ present: false });
  }

  /** A host listener that throws must not stop the batch: the counter has moved past these events. */
  override emit<K extends keyof BillValidatorEvents>(event: K, ...args: BillValidatorEvents[K]): boolean {
    try {
      return super.emit(event, ...(args as never));
    } catch (error) {
      this.logger.error({ event, err: (error as Error).message }, 'a bill validator listener threw');
      return true;
    }
  }

  /**
   * The last event counter read from the device (undefined before start). On a first start ever the host
   * persists this as its baseline, so a later start knows which buffered events are new.
   */
  get eventCounter(): number | undefined {
    return this.lastCounter;
  }

  health(): PeripheralHealth {
    return structuredClone(this.record);
  }

  /** Master inhibit off: the device starts taking the enabled bill types. */
  async enable(): Promise<void> {
    this.wantEnabled = true;
    await this.request(Header.modifyMasterInhibit, [1]);
    this.logger.info('bill validator enabled');
  }

  /** Master inhibit on: the device refuses every bill. */
  async disable(): Promise<void> {
    this.wantEnabled = false;
    await this.request(Header.modifyMasterInhibit, [0]);
    this.logger.info('bill validator disabled');
  }

  /** Enables exactly the bill types worth one of `acceptedFen`; kept for every later setup. */
  async setDenominations(acceptedFen: readonly number[]): Promise<void> {
    this.accepted = [...acceptedFen];
    await this.applyInhibits();
  }

  /** Sends the escrowed bill to the cash box; its credit arrives as 'bill-stacked' from the event buffer. */
  async stackEscrow(): Promise<void> {
    await this.route(ROUTE_STACK);
  }

  async returnEscrow(): Promise<void> {
    await this.route(ROUTE_RETURN);
  }

  async identify(): Promise<BillValidatorIdentity> {
    const category = ascii(await this.request(Header.equipmentCategory));
    const manufacturer = ascii(await this.request(Header.manufacturerId));
    const productCode = ascii(await this.request(Header.productCode));
    const serial = await this.request(Header.serialNumber);
    const softwareRevision = ascii(await this.request(Header.softwareRevision));
    const serialNumber = (serial[0] ?? 0) | ((serial[1] ?? 0) << 8) | ((serial[2] ?? 0) << 16);
    return { category, manufacturer, productCode, serialNumber, softwareRevision };
  }

  private async connect(): Promise<void> {
    const master = await CctalkMaster.open(this.path, {
      baudRate: this.options.baudRate,
      timeoutMs: this.options.requestTimeoutMs,
      retries: this.options.retries,
      logger: this.logger,
    });
    this.master = master;
    try {
      await this.setup();
      await this.pollAndRecover();
      // A port lost during setup fails its requests; one lost just after the last reply is caught here.
      if (!master.isOpen) throw new BillValidatorUnavailableError(this.path);
    } catch (error) {
      if (this.master === master) this.master = null;
      await master.close();
      throw error;
    }
    if (!this.running) return; // stop() came while connecting and already closed the port
    // Only a connected port's loss means reconnecting; a failed connect is retried by its caller.
    master.once('close', (error) => this.onPortClosed(master, error));
    this.backoff.reset();
    this.clearFault('unreachable');
    this.clearFault('no-reply');
    this.updateHealth({ present: true });
    this.logger.info({ path: this.path, identity: this.identity, eventCounter: this.lastCounter }, 'bill validator connected');
    this.emit('connected');
    this.schedulePoll();
  }

  /** Everything a reset device forgets: run at connect and after a reset. */
  private async setup(): Promise<void> {
    await this.request(Header.simplePoll);
    const identity = await this.identify();
    if (identity.category !== 'Bill Validator') {
      throw new Error(`device at ccTalk address ${this.address} on ${this.path} is a "${identity.category}", not a bill validator`);
    }
    this.identity = identity;
    this.billTable = await this.readBillTable();
    await this.applyInhibits();
    await this.request(Header.modifyMasterInhibit, [this.wantEnabled ? 1 : 0]);
  }

  private async readBillTable(): Promise<BillTypeInfo[]> {
    const ids: string[] = [];
    for (let billType = 1; billType <= BILL_TYPES; billType += 1) ids.push(ascii(await this.request(Header.billId, [billType])));
    const bills = ids.map(parseBillId);
    const scaling = bills.some((bill) => bill?.country === CNY_COUNTRY)
      ? parseScalingFactor(await this.request(Header.countryScalingFactor, [...Buffer.from(CNY_COUNTRY, 'latin1')]))
      : null;
    const table = ids.map((billId, i) => {
      const bill = bills[i];
      return { billType: i + 1, billId, valueFen: bill && scaling ? billValueFen(bill, scaling) : null };
    });
    this.logger.info({ bills: table.filter((info) => info.valueFen !== null) }, 'bill table read');
    return table;
  }

  private async applyInhibits(): Promise<void> {
    const mask = inhibitMask(this.billTable, this.accepted);
    await this.request(Header.modifyInhibitStatus, mask);
    const enabled = this.billTable.filter((info, i) => ((mask[0] | (mask[1] << 8)) >> i) & 1);
    if (enabled.length === 0) this.logger.warn({ accepted: this.accepted }, 'the validator knows none of the accepted bills');
    this.logger.info({ enabled: enabled.map(({ billType, valueFen }) => ({ billType, valueFen })) }, 'bill types enabled');
  }

  private async route(direction: typeof ROUTE_STACK | typeof ROUTE_RETURN): Promise<void> {
    const bill = this.escrowBill;
    const reply = await this.request(Header.routeBill, [direction]);
    const action = direction === ROUTE_STACK ? 'stack' : 'return';
    if (reply.length === 0) {
      this.logger.info({ action, billType: bill?.billType, valueFen: bill?.valueFen, eventCounter: bill?.eventCounter }, 'escrowed bill routed');
      return;
    }
    if (reply[0] === ROUTE_ESCROW_EMPTY) throw new BillRouteError('escrow-empty', `cannot ${action} the escrowed bill: escrow is empty`);
    throw new BillRouteError('route-failed', `the validator failed to ${action} the escrowed bill (code ${reply[0]})`);
  }

  private request(header: number, data: readonly number[] = []): Promise<Buffer> {
    const master = this.master;
    if (!master) return Promise.reject(new BillValidatorUnavailableError(this.path));
    return master.request(this.address, header, data);
  }

  private schedulePoll(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.work = this.tick();
    }, this.pollIntervalMs);
  }

  private async tick(): Promise<void> {
    const master = this.master;
    try {
      await this.pollAndRecover();
      this.clearFault('no-reply');
    } catch (error) {
      if (this.master !== master) return; // the port went away; reconnecting takes over
      if (error instanceof CctalkTimeoutError || error instanceof CctalkBusyError) {
        this.raiseFault('no-reply', `bill validator on ${this.path} does not answer: ${error.message}`);
      } else {
        this.logger.warn({ err: (error as Error).message }, 'bill validator poll failed');
        this.updateHealth({ lastError: { message: (error as Error).message, at: new Date().toISOString() } });
      }
    }
    if (this.running && this.master === master) this.schedulePoll();
  }

  private async pollAndRecover(): Promise<void> {
    await this.pollEvents();
    if (this.needsSetup) {
      await this.setup();
      this.needsSetup = false;
      this.logger.info('bill validator set up again after its reset');
    }
    if ([...this.faults.keys()].some((code) => SELF_CHECK_CLEARED.has(code))) await this.selfCheck();
  }

  private async pollEvents(): Promise<void> {
    const reply = await this.request(Header.readBufferedBillEvents);
    const buffer = parseEventBuffer(reply);
    if (!buffer) {
      this.count('unreadableEventReplies');
      this.logger.warn({ bytes: reply.length }, 'event buffer reply of the wrong length ignored');
      return;
    }
    const batch = newEvents(this.lastCounter, buffer);
    if (batch.kind === 'baseline') {
      this.lastCounter = batch.counter;
      this.logger.info({ eventCounter: batch.counter }, 'event counter baseline: earlier events are not ours to credit');
      return;
    }
    if (batch.kind === 'reset') {
      this.logger.warn({ lastEventCounter: this.lastCounter }, 'bill validator reset (event counter 0): setting it up again');
      this.lastCounter = 0;
      this.escrowBill = null;
      this.needsSetup = true;
      this.count('deviceResets');
      this.emit('device-reset', {});
      return;
    }
    // Advance before handling, so nothing below (a listener, a failed route) can make us see an event twice.
    const previous = this.lastCounter;
    this.lastCounter = batch.counter;
    if (batch.missed > 0) {
      const message = `${batch.missed} bill validator events lost between counters ${previous} and ${batch.counter}: count the cash box`;
      this.logger.error({ missed: batch.missed, from: previous, to: batch.counter }, 'bill validator events lost');
      this.count('eventsLost', batch.missed);
      this.updateHealth({ lastError: { message, at: new Date().toISOString() } });
      this.emit('events-lost', { missed: batch.missed });
    }
    const newest = batch.events.at(-1);
    for (const event of batch.events) await this.handleEvent(event, event === newest);
  }

  private async handleEvent(event: BufferedEvent, newest: boolean): Promise<void> {
    if (event.a === 0) return this.handleStatus(event);
    const valueFen = this.billTable.find((info) => info.billType === event.a)?.valueFen ?? null;
    const fields = { billType: event.a, valueFen, eventCounter: event.counter };
    if (event.b === STACKED) {
      this.escrowBill = null;
      if (valueFen === null) return this.incident('unknown-bill-stacked', `bill type ${event.a} stacked but it has no value in fen: count the cash box`, fields);
      this.count('billsStacked');
      this.count('stackedFen', valueFen);
      this.stackedSinceEmptied += 1;
      this.logger.info(fields, 'bill stacked');
      this.updateHealth();
      this.emit('bill-stacked', { valueFen, billType: event.a, eventCounter: event.counter });
    } else if (event.b === ESCROW) {
      // Only the newest event can be a bill still waiting: any later event means it was stacked or returned.
      if (!newest) return void this.logger.info(fields, 'bill was in escrow and has since been routed');
      await this.handleEscrow(event, valueFen);
    } else {
      this.logger.warn({ ...fields, b: event.b }, 'bill event with an unknown B code ignored');
    }
  }

  private async handleEscrow(event: BufferedEvent, valueFen: number | null): Promise<void> {
    const fields = { billType: event.a, valueFen, eventCounter: event.counter };
    try {
      if (valueFen === null || !this.accepted.includes(valueFen)) {
        this.logger.info(fields, 'escrowed bill not accepted: returning it');
        this.emit('bill-rejected', { reason: 'not-accepted' });
        await this.route(ROUTE_RETURN);
        return;
      }
      this.logger.info(fields, 'bill in escrow');
      if (this.escrowMode) {
        this.escrowBill = { valueFen, billType: event.a, eventCounter: event.counter };
        this.emit('bill-escrow', { ...this.escrowBill });
        return;
      }
      await this.route(ROUTE_STACK);
    } catch (error) {
      this.logger.error({ ...fields, err: (error as Error).message }, 'routing the escrowed bill failed');
    }
  }

  private handleStatus(event: BufferedEvent): void {
    const meaning = statusMeaning(event.b);
    switch (meaning.kind) {
      case 'rejected':
        this.count('billsRejected');
        this.logger.info({ reason: meaning.reason, eventCounter: event.counter }, 'bill rejected');
        this.emit('bill-rejected', { reason: meaning.reason });
        return;
      case 'returned': {
        const billType = this.escrowBill?.billType;
        this.escrowBill = null;
        this.logger.info({ billType, eventCounter: event.counter }, 'escrowed bill returned');
        this.emit('bill-returned', billType === undefined ? {} : { billType });
        return;
      }
      case 'fault':
        return this.raiseFault(meaning.code, meaning.message);
      case 'clears':
        if (event.b === BillStatus.stackerInserted) this.stackedSinceEmptied = 0;
        for (const code of meaning.codes) this.clearFault(code);
        this.updateHealth();
        return;
      case 'unknown-bill-stacked':
        return this.incident('unknown-bill-stacked', 'the validator stacked a bill it could not identify: count the cash box', { eventCounter: event.counter });
      case 'unknown':
        this.logger.warn({ status: meaning.status, eventCounter: event.counter }, 'unknown bill validator status ignored');
        return;
    }
  }

  private async selfCheck(): Promise<void> {
    const [code] = await this.request(Header.selfCheck);
    if (code !== 0) return;
    for (const fault of SELF_CHECK_CLEARED) this.clearFault(fault);
  }

  private onPortClosed(master: CctalkMaster, error: Error | null): void {
    if (this.master !== master || !this.running) return;
    this.master = null;
    this.retiredRetries += master.counters.retries;
    clearTimeout(this.pollTimer);
    this.updateHealth({ present: false });
    this.raiseFault('unreachable', `serial port ${this.path} closed${error ? `: ${error.message}` : ''}`);
    this.emit('disconnected');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delayMs = this.backoff.nextDelayMs();
    this.logger.info({ delayMs }, 'reopening the bill validator port');
    this.reconnectTimer = setTimeout(() => {
      this.work = this.connect().catch((error: Error) => {
        this.logger.warn({ err: error.message }, 'reopening the bill validator failed');
        this.updateHealth({ lastError: { message: error.message, at: new Date().toISOString() } });
        if (this.running) this.scheduleReconnect();
      });
    }, delayMs);
  }

  private raiseFault(code: string, message: string): void {
    if (this.faults.has(code)) return;
    const at = new Date().toISOString();
    this.faults.set(code, { code, message, since: at });
    this.logger.warn({ code }, message);
    this.updateHealth({ lastError: { message, at } });
    this.emit('fault', { code, message });
  }

  private clearFault(code: string): void {
    if (!this.faults.delete(code)) return;
    this.logger.info({ code }, 'bill validator fault cleared');
    this.updateHealth();
    this.emit('fault-cleared', { code });
  }

  /** A one-off money doubt: no lasting condition to clear, but someone must count the box. */
  private incident(code: string, message: string, fields: object): void {
    this.count(code);
    this.logger.error({ ...fields, code }, message);
    this.updateHealth({ lastError: { message, at: new Date().toISOString() } });
    this.emit('fault', { code, message });
  }

  private count(counter: string, by = 1): void {
    this.counters[counter] = (this.counters[counter] ?? 0) + by;
  }

  private updateHealth(change: Partial<Pick<PeripheralHealth, 'present' | 'lastError'>> = {}): void {
    const present = change.present ?? this.record.present;
    const faults = [...this.faults.values()];
    this.record = {
      ...this.record,
      ...change,
      present,
      ready: present && faults.length === 0,
      fault: faults.at(-1) ?? null,
      stacker: { bills: this.stackedSinceEmptied, capacity: null, removed: this.faults.has('stacker-removed') },
      counters: { ...this.counters, cctalkRetries: this.retiredRetries + (this.master?.counters.retries ?? 0) },
      updatedAt: new Date().toISOString(),
    };
    this.emit('health', this.health());
  }
}
