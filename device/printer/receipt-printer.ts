import { Printer } from 'escpos';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { PrinterError } from './printer-error.ts';
import {
  StatusRequest,
  decodePrinterStatus,
  isStatusByte,
  notReadyReason,
  statusRequestBytes,
  type PrinterStatus,
} from './printer-status.ts';
import { renderTopUpReceipt, DEFAULT_RECEIPT_COLUMNS, type ReceiptLine, type TopUpReceipt } from './receipt.ts';
import { TcpPrinterLink, type PrinterAddress } from './tcp-printer-link.ts';

export interface ReceiptPrinterOptions {
  /** Connecting, each status answer and closing each get this long. */
  timeoutMs?: number;
  /** 32 for 58 mm paper, 48 for 80 mm. */
  columns?: number;
  logger?: Logger;
}

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
      .size(1, line.tall ? 2 : 1) // ESC ! n: also resets emphasis, so it comes first
      .print(emphasis(line.bold))
      .text(line.text);
  }
  printer.cut();
}

/** Prints member receipts on a network ESC/POS printer with the escpos package, text in GB18030. */
export class ReceiptPrinter {
  private readonly timeoutMs: number;
  private readonly columns: number;
  private readonly logger: Logger;

  constructor(
    private readonly address: PrinterAddress,
    options: ReceiptPrinterOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.columns = options.columns ?? DEFAULT_RECEIPT_COLUMNS;
    this.logger = options.logger ?? createLogger('printer');
  }

  /** Prints the receipt, or fails with a PrinterError — also when the printer reports it cannot print. */
  async printTopUp(receipt: TopUpReceipt): Promise<void> {
    await this.withLink(async (link) => {
      const reason = notReadyReason(await this.readStatus(link));
      if (reason) throw new PrinterError('not-ready', `receipt printer at ${link.label} cannot print: ${reason}`);
      const printer = new Printer(link, { encoding: 'GB18030' });
      compose(printer, renderTopUpReceipt(receipt, this.columns));
      await new Promise<void>((resolve, reject) => {
        printer.flush((error) => (error ? reject(new PrinterError('link-failed', `sending the receipt failed: ${error.message}`, { cause: error })) : resolve()));
      });
    });
    this.logger.info({ txId: receipt.txId, card: receipt.cardUidMasked }, 'receipt printed');
  }

  async printerStatus(): Promise<PrinterStatus> {
    return this.withLink((link) => this.readStatus(link));
  }

  private async readStatus(link: TcpPrinterLink): Promise<PrinterStatus> {
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
    return decodePrinterStatus(printer, offlineCause, paperSensor);
  }

  private async withLink<T>(use: (link: TcpPrinterLink) => Promise<T>): Promise<T> {
    const link = await TcpPrinterLink.open(this.address, this.timeoutMs);
    try {
      const result = await use(link);
      await link.close(this.timeoutMs);
      return result;
    } catch (error) {
      link.destroy();
      throw error;
    }
  }
}
