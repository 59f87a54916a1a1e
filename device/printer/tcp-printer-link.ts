import { connect } from 'node:net';
import { PrinterError } from './printer-error.ts';
import { PrinterLink } from './printer-link.ts';

export interface PrinterAddress {
  host: string;
  port: number;
}

/** Connects to a network receipt printer's raw port. */
export function openTcpPrinterLink(address: PrinterAddress, timeoutMs: number): Promise<PrinterLink> {
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
      /**
       * Half-closes after everything written has been handed to the network, then waits for the printer
       * to close its side. Destroying the socket instead can reset the connection and lose the tail of a
       * receipt — typically the cut.
       */
      const shutdown = (closeTimeoutMs: number) =>
        new Promise<void>((done) => {
          const timer = setTimeout(() => socket.destroy(), closeTimeoutMs);
          socket.once('close', () => {
            clearTimeout(timer);
            done();
          });
          socket.end();
        });
      resolve(new PrinterLink(socket, label, shutdown));
    });
  });
}
