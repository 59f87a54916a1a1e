import { EventEmitter } from 'node:events';
import { CCTalkParser, SerialPort } from 'serialport';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { BillStatus, EVENT_BUFFER_SIZE } from '../bill-validator/bill-events.ts';
import { BILL_TYPES, billValueFen, parseBillId, type ScalingFactor } from '../bill-validator/bill-table.ts';
import { decodeFrame, encodeFrame, type CctalkFrame } from '../bill-validator/cctalk-frame.ts';
import { BILL_VALIDATOR_ADDRESS, Header } from '../bill-validator/cctalk-headers.ts';

/** Bill types 1..5 of the emulated validator; its country scaling factor makes VVVV whole yuan. */
export const EMULATED_BILL_IDS: readonly string[] = ['CN0005A', 'CN0010A', 'CN0020A', 'CN0050A', 'CN0100A'];

/** CN: factor 100 with 2 decimals, so VVVV × 100 is the value in fen. */
const CN_SCALING: ScalingFactor = { factor: 100, decimals: 2 };
const UNPROGRAMMED_BILL_ID = '.......';
const ROUTE_RETURN = 0;
const ROUTE_STACK = 1;
const ROUTE_EXTEND = 255;
/** Self-check code for "bill jammed" (from the ccTalk fault code table; *unverified* against a device). */
const SELF_CHECK_BILL_JAMMED = 39;

/** Ways the emulated line misbehaves, each for the next N replies or until cleared. */
export type ReplyFault = 'noReply' | 'busy' | 'badChecksum' | 'garbage';

export type InsertOutcome = 'stacked' | 'escrow' | 'rejected' | 'refused';

export interface CctalkValidatorOptions {
  address?: number;
  /** Read the host's bytes back to it, as the single shared ccTalk wire does (default true). */
  echo?: boolean;
  /** Event counter at power-up of this emulator, to start a test near the 255 → 1 wrap. */
  eventCounter?: number;
  billIds?: readonly string[];
  logger?: Logger;
}

/**
 * A ccTalk bill validator on the device end of a serial line (a socat pty in tests and the demo): answers
 * the headers the kiosk uses from state that the control methods change — bills inserted, jams, the
 * stacker, power cycles — and keeps the real 5-event buffer and 1..255 counter.
 */
export class CctalkValidatorEmulator extends EventEmitter<{ request: [{ header: number; data: Buffer }] }> {
  private readonly address: number;
  private readonly echo: boolean;
  private readonly billIds: readonly string[];
  private readonly logger: Logger;
  private counter: number;
  private events: Array<{ a: number; b: number }> = [];
  private masterEnabled = false;
  private inhibitMask = 0;
  private escrowType: number | null = null;
  private jammed = false;
  private stackerIsFull = false;
  private stackerIsRemoved = false;
  private readonly replyFaults = new Map<ReplyFault, number>();

  constructor(private readonly port: SerialPort, options: CctalkValidatorOptions = {}) {
    super();
    this.address = options.address ?? BILL_VALIDATOR_ADDRESS;
    this.echo = options.echo ?? true;
    this.counter = options.eventCounter ?? 0;
    this.billIds = options.billIds ?? EMULATED_BILL_IDS;
    this.logger = options.logger ?? createLogger('cctalk-emulator');
    const parser = new CCTalkParser();
    parser.on('data', (bytes: Buffer) => this.onFrame(bytes));
    port.on('data', (chunk: Buffer) => {
      if (this.echo) port.write(chunk);
      parser.write(chunk);
    });
    port.on('error', (error) => this.logger.warn({ err: error.message }, 'emulated validator port error'));
  }

  static async open(devicePath: string, options: CctalkValidatorOptions = {}): Promise<CctalkValidatorEmulator> {
    const port = new SerialPort({ path: devicePath, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    return new CctalkValidatorEmulator(port, options);
  }

  async close(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  get enabled(): boolean {
    return this.masterEnabled;
  }

  /**
   * A customer feeds a bill. Taken only if the validator is enabled and its type is not inhibited;
   * otherwise it is handed back with a reject event. 'refused': the transport cannot take bills (jam, a
   * full or missing stacker, a bill already in escrow), so nothing happens at all.
   */
  insertBill(valueFen: number, { escrow = false }: { escrow?: boolean } = {}): InsertOutcome {
    if (this.jammed || this.stackerIsFull || this.stackerIsRemoved || this.escrowType !== null) return 'refused';
    const index = this.billIds.findIndex((id) => valueOf(id) === valueFen);
    if (index < 0) return this.reject(BillStatus.validationFail);
    if (!this.masterEnabled) return this.reject(BillStatus.masterInhibitActive);
    const billType = index + 1;
    if (!((this.inhibitMask >> index) & 1)) return this.reject(BillStatus.inhibitedSerial);
    if (escrow) {
      this.escrowType = billType;
      this.record(billType, 1);
      return 'escrow';
    }
    this.record(billType, 0);
    return 'stacked';
  }

  jam({ unsafe = false }: { unsafe?: boolean } = {}): void {
    this.jammed = true;
    this.record(0, unsafe ? BillStatus.jamUnsafe : BillStatus.jamSafe);
  }

  clearJam(): void {
    this.jammed = false;
  }

  stackerFull(): void {
    this.stackerIsFull = true;
    this.record(0, BillStatus.stackerFull);
  }

  removeStacker(): void {
    this.stackerIsRemoved = true;
    this.record(0, BillStatus.stackerRemoved);
  }

  /** Putting the (emptied) box back. */
  insertStacker(): void {
    this.stackerIsRemoved = false;
    this.stackerIsFull = false;
    this.record(0, BillStatus.stackerInserted);
  }

  fraud(): void {
    this.record(0, BillStatus.stringFraud);
  }

  /** Power off and on: counter 0, buffer empty, every bill inhibited, an escrowed bill handed back. */
  powerCycle(): void {
    this.counter = 0;
    this.events = [];
    this.masterEnabled = false;
    this.inhibitMask = 0;
    this.escrowType = null;
    this.jammed = false;
  }

  setReplyFault(fault: ReplyFault, replies = Infinity): void {
    this.replyFaults.set(fault, replies);
  }

  clearReplyFaults(): void {
    this.replyFaults.clear();
  }

  private reject(status: number): InsertOutcome {
    this.record(0, status);
    return 'rejected';
  }

  private record(a: number, b: number): void {
    this.counter = this.counter === 255 ? 1 : this.counter + 1;
    this.events.unshift({ a, b });
    this.events.length = Math.min(this.events.length, EVENT_BUFFER_SIZE);
  }

  /** Uses up one reply of `fault` if it is active. */
  private take(fault: ReplyFault): boolean {
    const left = this.replyFaults.get(fault);
    if (left === undefined) return false;
    if (left <= 1) this.replyFaults.delete(fault);
    else this.replyFaults.set(fault, left - 1);
    return true;
  }

  private onFrame(bytes: Buffer): void {
    const decoded = decodeFrame(bytes);
    // A real device stays silent on a frame it cannot read or that is not for it.
    if (!decoded.ok || decoded.frame.dest !== this.address) return;
    const { frame } = decoded;
    this.emit('request', { header: frame.header, data: frame.data });
    if (this.take('noReply')) return;
    if (this.take('busy')) return this.send(frame, Header.busy, []);
    const answer = this.execute(frame);
    if (answer === 'nak') return this.send(frame, Header.nak, []);
    this.send(frame, Header.reply, answer);
    if (frame.header === Header.reset) this.powerCycle();
  }

  private send(request: CctalkFrame, header: number, data: readonly number[]): void {
    const reply = encodeFrame({ dest: request.src, src: this.address, header, data });
    if (this.take('badChecksum')) reply[reply.length - 1] = (reply[reply.length - 1]! + 1) % 256;
    // Bytes that frame as a 255-data-byte message: the host's framer swallows the reply behind them.
    const garbage = this.take('garbage') ? Buffer.from([0x00, 0xff, 0x13]) : Buffer.alloc(0);
    this.port.write(Buffer.concat([garbage, reply]));
  }

  private execute(frame: CctalkFrame): number[] | 'nak' {
    const { data } = frame;
    switch (frame.header) {
      case Header.simplePoll:
      case Header.reset:
        return [];
      case Header.manufacturerId:
        return text('EMU');
      case Header.equipmentCategory:
        return text('Bill Validator');
      case Header.productCode:
        return text('CCTALK-EMU');
      case Header.serialNumber:
        return [0x39, 0x30, 0x00]; // 12345, LSB first
      case Header.softwareRevision:
        return text('1.0');
      case Header.selfCheck:
        return [this.jammed ? SELF_CHECK_BILL_JAMMED : 0];
      case Header.modifyInhibitStatus:
        if (data.length !== 2) return 'nak';
        this.inhibitMask = data[0]! | (data[1]! << 8);
        return [];
      case Header.modifyMasterInhibit:
        if (data.length !== 1) return 'nak';
        this.masterEnabled = (data[0]! & 1) === 1;
        return [];
      case Header.billId: {
        const billType = data[0];
        if (data.length !== 1 || billType === undefined || billType < 1 || billType > BILL_TYPES) return 'nak';
        return text(this.billIds[billType - 1] ?? UNPROGRAMMED_BILL_ID);
      }
      case Header.countryScalingFactor:
        return data.toString('latin1') === 'CN' ? [CN_SCALING.factor & 0xff, CN_SCALING.factor >> 8, CN_SCALING.decimals] : [0, 0, 0];
      case Header.readBufferedBillEvents:
        return [this.counter, ...Array.from({ length: EVENT_BUFFER_SIZE }, (_, i) => this.events[i] ?? { a: 0, b: 0 }).flatMap(({ a, b }) => [a, b])];
      case Header.routeBill:
        return this.route(data);
      default:
        return 'nak';
    }
  }

  private route(data: Buffer): number[] | 'nak' {
    if (data.length !== 1) return 'nak';
    const direction = data[0];
    if (this.escrowType === null) return [254];
    if (direction === ROUTE_STACK) this.record(this.escrowType, 0);
    else if (direction === ROUTE_RETURN) this.record(0, BillStatus.returnedFromEscrow);
    else if (direction === ROUTE_EXTEND) return [];
    else return 'nak';
    this.escrowType = null;
    return [];
  }
}

function text(value: string): number[] {
  return [...Buffer.from(value, 'latin1')];
}

function valueOf(billId: string): number | null {
  const bill = parseBillId(billId);
  return bill ? billValueFen(bill, CN_SCALING) : null;
}
