import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createLogger } from '../../shared/logger.ts';
import { EscPosParser } from './escpos-parser.ts';

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
 * A network ESC/POS receipt printer (raw TCP, like port 9100): decodes what it is sent into receipt text
 * (one 'receipt' event per cut) and answers real-time status requests from its settable state.
 */
export class PrinterEmulator extends EventEmitter<{ receipt: [string] }> {
  readonly receipts: string[] = [];
  private status: EmulatedPrinterStatus = { paperEnd: false, paperNearEnd: false, coverOpen: false, offline: false };
  private readonly sockets = new Set<Socket>();

  constructor(private readonly server: Server) {
    super();
    server.on('connection', (socket) => this.serve(socket));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  setStatus(change: Partial<EmulatedPrinterStatus>): void {
    this.status = { ...this.status, ...change };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const parser = new EscPosParser();
    socket.on('data', (chunk: Buffer) => {
      for (const event of parser.push(chunk)) {
        if (event.type === 'status-request') {
          const answer = statusByte(event.n, this.status);
          if (answer !== undefined) socket.write(Buffer.from([answer]));
        } else {
          this.receipts.push(event.text);
          this.emit('receipt', event.text);
        }
      }
    });
    // A client that resets the connection must not take the printer down.
    socket.on('error', (error) => logger.warn({ err: error.message }, 'printer connection failed'));
    socket.on('close', () => this.sockets.delete(socket));
  }
}

export async function startPrinterEmulator({ host = '127.0.0.1', port = 0 } = {}): Promise<PrinterEmulator> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new PrinterEmulator(server);
}
