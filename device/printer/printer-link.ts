import type { Duplex } from 'node:stream';
import type { Adapter, Callback } from 'escpos';
import { PrinterError } from './printer-error.ts';

/** Where the receipt printer is: a network printer's raw port (9100) or a serial / USB-serial port. */
export type PrinterEndpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'serial'; path: string; baudRate: number };

/**
 * One open two-way connection to a receipt printer over any byte stream (a TCP socket or a serial port).
 * It is an escpos adapter (escpos's Printer only calls write), and it can ask the printer a question and
 * wait for the answer, which escpos's own adapters cannot: they drop everything the printer sends.
 */
export class PrinterLink implements Adapter {
  private received = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private ended = false;

  /** `shutdown` ends the connection once everything written has left, so the tail of a job survives. */
  constructor(
    private readonly stream: Duplex,
    readonly label: string,
    private readonly shutdown: (timeoutMs: number) => Promise<void>,
  ) {
    stream.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiter?.();
    });
    // Without a listener a reset or an unplugged adapter (EIO/ENXIO) would be an uncaught exception.
    stream.on('error', (error) => {
      this.failure = error;
      this.waiter?.();
    });
    stream.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
  }

  write(data: Buffer, callback: Callback): void {
    this.stream.write(data, callback);
  }

  /** Sends a request and resolves with the next `length` bytes the printer sends back. */
  async request(bytes: Buffer, length: number, timeoutMs: number): Promise<Buffer> {
    await new Promise<void>((resolve, reject) =>
      this.write(bytes, (error) => (error ? reject(this.linkFailed(error)) : resolve())),
    );
    await this.awaitBytes(length, timeoutMs);
    const answer = this.received.subarray(0, length);
    this.received = this.received.subarray(length);
    return answer;
  }

  linkFailed(error: Error): PrinterError {
    return new PrinterError('link-failed', `connection to the receipt printer at ${this.label} failed: ${error.message}`, { cause: error });
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
        else if (this.failure) finish(this.linkFailed(this.failure));
        else if (this.ended || this.stream.destroyed || this.stream.readableEnded) {
          finish(new PrinterError('link-failed', `receipt printer at ${this.label} closed the connection`));
        }
      };
      this.waiter();
    });
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.stream.destroyed) return;
    await this.shutdown(timeoutMs);
  }

  destroy(): void {
    this.stream.destroy();
  }
}
