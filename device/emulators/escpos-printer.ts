import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createLogger } from '../../shared/logger.ts';
import { EscPosParser, type PrintedJob } from './escpos-parser.ts';
import { renderJobPng } from './escpos-receipt-image.ts';

const logger = createLogger('printer-emulator');

export interface EmulatedPrinterStatus {
  paperEnd: boolean;
  paperNearEnd: boolean;
  coverOpen: boolean;
  offline: boolean;
}

/**
 * The byte a real printer answers to DLE EOT n (bits 1 and 4 always set); undefined for an n it does
 * not know, which a printer ignores. Paper end and an open cover take the printer offline.
 */
export function statusByte(n: number, status: EmulatedPrinterStatus): number | undefined {
  const base = 0x12;
  switch (n) {
    case 1:
      return base | (status.offline || status.paperEnd || status.coverOpen ? 0x08 : 0);
    case 2:
      return base | (status.coverOpen ? 0x04 : 0) | (status.paperEnd ? 0x20 : 0);
    case 3:
      return base;
    case 4:
      return base | (status.paperNearEnd ? 0x0c : 0) | (status.paperEnd ? 0x60 : 0);
    default:
      return undefined;
  }
}

/**
 * An ESC/POS receipt printer, whatever the cable: every connection (a TCP socket, a serial port) is
 * served by `serve`. It decodes what it is sent into printed jobs (one 'receipt' event per cut, text and
 * a PNG picture on request), answers real-time status requests from its settable state, and can run out
 * of paper part-way through a job. The transports are in startPrinterEmulator (TCP) and
 * startSerialPrinterEmulator.
 */
export class PrinterEmulator extends EventEmitter<{ receipt: [string]; job: [PrintedJob] }> {
  readonly receipts: string[] = [];
  readonly jobs: PrintedJob[] = [];
  private status: EmulatedPrinterStatus = { paperEnd: false, paperNearEnd: false, coverOpen: false, offline: false };
  /** Lines left on the roll; null for a roll that never ends. */
  private paperLines: number | null = null;
  private readonly streams = new Set<Duplex>();

  setStatus(change: Partial<EmulatedPrinterStatus>): void {
    this.status = { ...this.status, ...change };
  }

  /** Puts in a roll that runs out after `lines` printed lines (text lines, feeds, QR codes); endless without. */
  loadPaper(lines?: number): void {
    this.paperLines = lines ?? null;
    this.setStatus({ paperEnd: false });
  }

  /** The last job as a PNG picture of the slip. */
  async lastReceiptPng(): Promise<Buffer> {
    const job = this.jobs.at(-1);
    if (!job) throw new Error('the printer emulator has printed nothing yet');
    return renderJobPng(job);
  }

  /** Serves one connection until it closes: its own parser, status answers written back to it. */
  serve(stream: Duplex): void {
    this.streams.add(stream);
    const parser = new EscPosParser({ takePaper: () => this.takePaper() });
    stream.on('data', (chunk: Buffer) => {
      for (const event of parser.push(chunk)) {
        if (event.type === 'status-request') {
          const answer = statusByte(event.n, this.status);
          if (answer !== undefined) stream.write(Buffer.from([answer]));
        } else {
          const { type: _type, ...job } = event;
          this.jobs.push(job);
          this.receipts.push(job.text);
          this.emit('job', job);
          this.emit('receipt', job.text);
        }
      }
    });
    // A client that resets the connection must not take the printer down.
    stream.on('error', (error) => logger.warn({ err: error.message }, 'printer connection failed'));
    stream.on('close', () => this.streams.delete(stream));
  }

  async close(): Promise<void> {
    for (const stream of this.streams) stream.destroy();
  }

  private takePaper(): boolean {
    if (this.paperLines === null) return true;
    if (this.paperLines === 0) {
      this.setStatus({ paperEnd: true });
      return false;
    }
    this.paperLines -= 1;
    return true;
  }
}

/** A network printer (raw TCP, like port 9100). */
export class TcpPrinterEmulator extends PrinterEmulator {
  constructor(private readonly server: Server) {
    super();
    server.on('connection', (socket) => this.serve(socket));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  override async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await super.close();
    await closed;
  }
}

export async function startPrinterEmulator({ host = '127.0.0.1', port = 0 } = {}): Promise<TcpPrinterEmulator> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new TcpPrinterEmulator(server);
}
