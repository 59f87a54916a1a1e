import { SerialPort } from 'serialport';
import { PrinterError } from './printer-error.ts';
import { PrinterLink } from './printer-link.ts';

export interface SerialPrinterPort {
  /** Prefer a stable /dev/serial/by-id/… link: /dev/ttyUSBn numbers change when adapters are replugged. */
  path: string;
  baudRate: number;
}

/** Opens a serial (RS-232 or USB-serial) receipt printer, 8N1. */
export function openSerialPrinterLink(port: SerialPrinterPort, timeoutMs: number): Promise<PrinterLink> {
  const label = port.path;
  return new Promise((resolve, reject) => {
    const serial = new SerialPort({ path: port.path, baudRate: port.baudRate, autoOpen: false });
    // A tty open does not hang the way a TCP connect can, but a wedged USB driver can: bound it anyway.
    const timer = setTimeout(() => fail(`not open within ${timeoutMs} ms`), timeoutMs);
    function fail(reason: string, cause?: Error): void {
      clearTimeout(timer);
      if (serial.isOpen) serial.close();
      reject(new PrinterError('unreachable', `receipt printer at ${label} is not reachable: ${reason}`, { cause }));
    }
    serial.open((error) => {
      if (error) return fail(error.message, error);
      clearTimeout(timer);
      /** Waits until the UART has sent every byte (tcdrain) before closing: closing early drops the cut. */
      const shutdown = (closeTimeoutMs: number) =>
        new Promise<void>((done) => {
          const finish = () => {
            clearTimeout(timer);
            done();
          };
          const timer = setTimeout(() => {
            serial.destroy();
            finish();
          }, closeTimeoutMs);
          serial.drain(() => (serial.isOpen ? serial.close(finish) : finish()));
        });
      resolve(new PrinterLink(serial, label, shutdown));
    });
  });
}
