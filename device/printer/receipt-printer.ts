import { EventEmitter } from 'node:events';
import { Printer } from 'escpos';
import type { Bilingual } from '../kiosk/messages.ts';
import type { PeripheralHealth } from '../health/peripheral-health.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { PrinterError } from './printer-error.ts';
import { faultOfError, PrinterHealth } from './printer-health.ts';
import type { PrinterEndpoint, PrinterLink } from './printer-link.ts';
import { printerFaultMessages } from './printer-messages.ts';
import {
  StatusRequest,
  decodePrinterStatus,
  describeFault,
  isStatusByte,
  printerFaults,
  statusRequestBytes,
  type PrinterFaultCode,
  type PrinterStatus,
} from './printer-status.ts';
import { renderTopUpReceipt, DEFAULT_RECEIPT_COLUMNS, type ReceiptLine, type TopUpReceipt } from './receipt.ts';
import { openSerialPrinterLink } from './serial-printer-link.ts';
import { openTcpPrinterLink, type PrinterAddress } from './tcp-printer-link.ts';
import { renderVoucher, type Voucher } from './voucher.ts';

export interface ReceiptPrinterOptions {
  /** Connecting, each status answer and closing each get this long. */
  timeoutMs?: number;
  /** 32 for 58 mm paper, 48 for 80 mm. */
  columns?: number;
  logger?: Logger;
}

/** Whether a voucher may be offered now; when not, why, for the log and in words for the member. */
export type PrintReadiness = { ok: true } | { ok: false; reason: PrinterFaultCode; message: Bilingual };

/** 'unprinted': the member has no usable slip (or may not have), so the kiosk can offer to print it again. */
export type VoucherPrintResult =
  | { status: 'printed' }
  | { status: 'unprinted'; reason: PrinterFaultCode; message: Bilingual; detail: string };

/** Chinese character mode on (FS &): GB18030 double-byte text prints as Hanzi, not as two Latin glyphs. */
const CHINESE_MODE_ON = Buffer.from([0x1c, 0x26]);

/** ESC E n. escpos's style() also sends ESC 4 / ESC 5 (italic), which Epson-compatible printers lack. */
function emphasis(on: boolean): Buffer {
  return Buffer.from([0x1b, 0x45, on ? 1 : 0]);
}

/** Standard Epson QR (GS ( k), sent raw because escpos's qrcode() emits a non-Epson command. */
function qrCommand(data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  const store = payload.length + 3;
  return Buffer.concat([
    Buffer.from([0x1d, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]), // model 2
    Buffer.from([0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, 0x06]), // module size 6 dots
    Buffer.from([0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, 0x31]), // error correction M
    Buffer.from([0x1d, 0x28, 0x6b, store & 0xff, store >> 8, 0x31, 0x50, 0x30]), payload, // store
    Buffer.from([0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30]), // print
  ]);
}

function compose(printer: Printer, lines: ReceiptLine[]): void {
  printer.hardware('init').print(CHINESE_MODE_ON);
  for (const line of lines) {
    if (line.kind === 'qr') {
      printer.align('ct').print(qrCommand(line.data)).feed(1);
      continue;
    }
    printer
      .align(line.align === 'center' ? 'ct' : 'lt')
      .size(line.wide ? 2 : 1, line.tall ? 2 : 1) // ESC ! n: also resets emphasis, so it comes first
      .print(emphasis(line.bold))
      .text(line.text);
  }
  printer.cut();
}

function describe(endpoint: PrinterEndpoint): string {
  return endpoint.kind === 'tcp' ? `${endpoint.host}:${endpoint.port}` : endpoint.path;
}

function openLink(endpoint: PrinterEndpoint, timeoutMs: number): Promise<PrinterLink> {
  return endpoint.kind === 'tcp' ? openTcpPrinterLink(endpoint, timeoutMs) : openSerialPrinterLink(endpoint, timeoutMs);
}

type JobOutcome = { printed: true } | { printed: false; reason: PrinterFaultCode; detail: string };

/**
 * Prints member receipts and vouchers on an ESC/POS printer — network (TCP) or serial — with the escpos
 * package, text in GB18030. Each operation opens its own connection, so a printer that was switched off
 * or unplugged in between is simply reached again; operations run one at a time because a serial port
 * can be open only once.
 */
export class ReceiptPrinter extends EventEmitter<{ health: [PeripheralHealth] }> {
  private readonly endpoint: PrinterEndpoint;
  private readonly timeoutMs: number;
  private readonly columns: number;
  private readonly logger: Logger;
  private readonly healthState: PrinterHealth;
  private queue: Promise<unknown> = Promise.resolve();

  /** A bare { host, port } is a network printer, as before serial printers were supported. */
  constructor(endpoint: PrinterEndpoint | PrinterAddress, options: ReceiptPrinterOptions = {}) {
    super();
    this.endpoint = 'kind' in endpoint ? endpoint : { kind: 'tcp', ...endpoint };
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.columns = options.columns ?? DEFAULT_RECEIPT_COLUMNS;
    this.logger = options.logger ?? createLogger('printer');
    this.healthState = new PrinterHealth(describe(this.endpoint));
    this.healthState.on('change', (health) => this.emit('health', health));
  }

  health(): PeripheralHealth {
    return this.healthState.snapshot();
  }

  /** Prints the receipt, or fails with a PrinterError — also when the printer reports it cannot print. */
  async printTopUp(receipt: TopUpReceipt): Promise<void> {
    const outcome = await this.printJob(renderTopUpReceipt(receipt, this.columns));
    if (!outcome.printed) {
      throw new PrinterError('not-ready', `receipt printer at ${describe(this.endpoint)} cannot print: ${outcome.detail}`);
    }
    this.logger.info({ txId: receipt.txId, card: receipt.cardUidMasked }, 'receipt printed');
  }

  /** Asks the printer (DLE EOT) before a voucher is offered. Never throws: an unreachable printer is an answer. */
  async canPrint(): Promise<PrintReadiness> {
    try {
      const [reason] = printerFaults(await this.printerStatus());
      return reason === undefined ? { ok: true } : { ok: false, reason, message: printerFaultMessages[reason] };
    } catch (error) {
      const reason = faultOfError(error);
      return { ok: false, reason, message: printerFaultMessages[reason] };
    }
  }

  /**
   * Prints a voucher and asks the printer again afterwards: if it ran out of paper (or lost its cover or
   * the link) on the way, the voucher is reported unprinted so the kiosk can offer it again. Never throws.
   */
  async printVoucher(voucher: Voucher): Promise<VoucherPrintResult> {
    let outcome: JobOutcome;
    try {
      outcome = await this.printJob(renderVoucher(voucher, this.columns));
    } catch (error) {
      outcome = { printed: false, reason: faultOfError(error), detail: (error as Error).message };
    }
    if (outcome.printed) {
      this.logger.info({ txId: voucher.txId, card: voucher.cardUidMasked }, 'voucher printed');
      return { status: 'printed' };
    }
    this.logger.warn({ txId: voucher.txId, reason: outcome.reason, detail: outcome.detail }, 'voucher not printed');
    return { status: 'unprinted', reason: outcome.reason, message: printerFaultMessages[outcome.reason], detail: outcome.detail };
  }

  async printerStatus(): Promise<PrinterStatus> {
    return this.withLink((link) => this.readStatus(link));
  }

  /** Prints, counting the job as printed or failed in health whatever the way it fails. */
  private async printJob(lines: ReceiptLine[]): Promise<JobOutcome> {
    try {
      const outcome = await this.withLink((link) => this.sendJob(link, lines));
      if (outcome.printed) this.healthState.printed();
      else this.healthState.unprinted(outcome.detail);
      return outcome;
    } catch (error) {
      this.healthState.unprinted((error as Error).message);
      throw error;
    }
  }

  /**
   * Status before (nothing is sent to a printer that cannot print), the job, status after. The emulator
   * handles bytes in order, so the after-check sees what the job did. A real printer answers DLE EOT the
   * moment it arrives, possibly while the job is still in its buffer; GS r 1, which is handled in order,
   * would close that gap.
   */
  private async sendJob(link: PrinterLink, lines: ReceiptLine[]): Promise<JobOutcome> {
    const before = printerFaults(await this.readStatus(link));
    if (before.length > 0) return { printed: false, reason: before[0]!, detail: before.map(describeFault).join(', ') };
    const printer = new Printer(link, { encoding: 'GB18030' });
    compose(printer, lines);
    await new Promise<void>((resolve, reject) => {
      printer.flush((error) => (error ? reject(link.linkFailed(error)) : resolve()));
    });
    const after = printerFaults(await this.readStatus(link));
    if (after.length > 0) return { printed: false, reason: after[0]!, detail: `${after.map(describeFault).join(', ')} while printing` };
    return { printed: true };
  }

  private async readStatus(link: PrinterLink): Promise<PrinterStatus> {
    const ask = async (n: StatusRequest): Promise<number> => {
      const [byte] = await link.request(statusRequestBytes(n), 1, this.timeoutMs);
      if (byte === undefined || !isStatusByte(byte)) {
        throw new PrinterError('bad-response', `receipt printer at ${link.label} answered DLE EOT ${n} with 0x${byte?.toString(16)}, not a status byte`);
      }
      return byte;
    };
    const printer = await ask(StatusRequest.printer);
    const offlineCause = await ask(StatusRequest.offlineCause);
    const paperSensor = await ask(StatusRequest.paperSensor);
    const status = decodePrinterStatus(printer, offlineCause, paperSensor);
    this.healthState.status(status);
    return status;
  }

  /** Runs `use` on a fresh link after every earlier operation has finished; link failures count in health. */
  private withLink<T>(use: (link: PrinterLink) => Promise<T>): Promise<T> {
    const run = async () => {
      let link: PrinterLink | undefined;
      try {
        link = await openLink(this.endpoint, this.timeoutMs);
        const result = await use(link);
        await link.close(this.timeoutMs);
        return result;
      } catch (error) {
        link?.destroy();
        this.healthState.failed(error);
        throw error;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
