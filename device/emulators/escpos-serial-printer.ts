import { SerialPort } from 'serialport';
import { PrinterEmulator } from './escpos-printer.ts';

/** A serial receipt printer on the device end of a pty pair (or any tty): one connection for its lifetime. */
export class SerialPrinterEmulator extends PrinterEmulator {
  constructor(private readonly port: SerialPort) {
    super();
    this.serve(port);
  }

  override async close(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
    await super.close();
  }
}

export async function startSerialPrinterEmulator({ path, baudRate = 9600 }: { path: string; baudRate?: number }): Promise<SerialPrinterEmulator> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  return new SerialPrinterEmulator(port);
}
