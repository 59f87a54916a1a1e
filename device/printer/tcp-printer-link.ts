import { connect, type Socket } from 'node:net';
import type { Adapter, Callback } from 'escpos';
import { PrinterError } from './printer-error.ts';

export interface PrinterAddress {
  host: string;
  port: number;
}

/**
 * One two-way TCP connection to a network receipt printer (raw port 9100). It is an escpos adapter
 * (escpos's Printer only calls write), and it can ask the printer a question and wait for the answer,
 * which escpos's own Network adapter cannot: it drops everything the printer sends.
 */
export class TcpPrinterLink implements Adapter {
  private received = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly label: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiter?.();
    });
    // Without a listener a reset by the printer would be an uncaught exception; record it instead.
    socket.on('error', (error) => {
      this.failure = error;
      this.waiter?.();
    });
    socket.on('close', () => this.waiter?.());
  }

  static open(address: PrinterAddress, timeoutMs: number): Promise<TcpPrinterLink> {
    const label = `${address.host}:${address.port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.host, port: address.port, timeout: timeoutMs });
      const fail = (reason: string, cause?: Error) => {
        socket.destroy();
        reject(new PrinterError('unreachable', `receipt printer at ${label} is not reachable: ${reason}`, { cause }));
      };
      socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message, error));
      socket.once('timeout', () => fail(`no connection within ${timeoutMs} ms`));
      socket.once('connect', () => {
        socket.removeAllListeners('error').removeAllListeners('timeout').setTimeout(0);
        resolve(new TcpPrinterLink(socket, label));
      });
    });
  }

  write(data: Buffer, callback: Callback): void {
    this.socket.write(data, callback);
  }

  /** Sends a request and resolves with the next `length` bytes the printer sends back. */
  async request(bytes: Buffer, length: number, timeoutMs: number): Promise<Buffer> {
    await new Promise<void>((resolve, reject) => this.write(bytes, (error) => (error ? reject(error) : resolve())));
    await this.awaitBytes(length, timeoutMs);
    const answer = this.received.subarray(0, length);
    this.received = this.received.subarray(length);
    return answer;
  }

  private awaitBytes(length: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error?: PrinterError) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new PrinterError('no-response', `receipt printer at ${this.label} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiter = () => {
        if (this.received.length >= length) finish();
        else if (this.failure) finish(new PrinterError('link-failed', `connection to the receipt printer at ${this.label} failed: ${this.failure.message}`, { cause: this.failure }));
        else if (this.socket.destroyed || this.socket.readableEnded) finish(new PrinterError('link-failed', `receipt printer at ${this.label} closed the connection`));
      };
      this.waiter();
    });
  }

  /**
   * Half-closes after everything written has been handed to the network, then waits for the printer to
   * close its side. Destroying the socket instead can reset the connection and lose the tail of a
   * receipt — typically the cut.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
