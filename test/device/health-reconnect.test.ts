import { mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { Backoff } from '../../device/hardware/backoff.ts';
import { ReconnectingDevice } from '../../device/hardware/reconnecting-device.ts';
import { watchPrinter } from '../../device/printer/printer-watch.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';
import { nextEventArgs } from '../helpers/events.ts';

const fastBackoff = () => new Backoff({ initialMs: 20, maxMs: 100 });
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Opens a serial port and reports it lost when it closes — after a failed write (EIO/ENXIO) or a disconnect. */
function serialDevice(path: string) {
  return new ReconnectingDevice<SerialPort>({
    connect: () =>
      new Promise((resolve, reject) => {
        const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
        port.open((error) => {
          if (error) return reject(error);
          // The failed write's error (EIO, ENXIO) says why; 'close' says that it is over.
          let failure: Error | undefined;
          port.on('error', (error) => (failure = error));
          const lost = new Promise<Error>((done) => port.once('close', (reason?: Error) => done(reason ?? failure ?? new Error('closed'))));
          resolve({ handle: port, lost });
        });
      }),
    disconnect: (port) => new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    backoff: fastBackoff(),
  });
}

describe('ReconnectingDevice on a serial pty', () => {
  it('goes down when the device disappears and up again when it is back under the same by-id link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'by-id-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const link = join(dir, 'usb-FTDI_FT232R_A1B2C3-if00-port0');
    let pair: PtyPair = await openPtyPair();
    cleanups.push(() => pair.stop());
    await symlink(pair.hostPath, link);

    const device = serialDevice(link);
    cleanups.push(() => device.stop());
    const events: string[] = [];
    device.on('up', () => events.push('up'));
    device.on('down', (error) => events.push(`down: ${error.message}`));
    const firstUp = nextEventArgs<[SerialPort]>(device, 'up', { what: 'the serial device to open' });
    device.start();
    const [port] = await firstUp;

    // Unplugged: the adapter's tty goes away; a write is what notices (EIO from a pty, ENXIO from USB).
    const down = nextEventArgs(device, 'down', { what: 'the device to be reported down after its pty went away' });
    await pair.stop();
    port.write(Buffer.from([0x10, 0x04, 0x01]));
    await down;
    expect(device.handle).toBeUndefined();

    // Plugged back in: a new tty, the same stable link (udev rewrites it; here the test does).
    pair = await openPtyPair();
    const upAgain = nextEventArgs(device, 'up', { what: 'the device to be up again under the same link' });
    await unlink(link);
    await symlink(pair.hostPath, link);
    await upAgain;
    expect(device.handle?.isOpen).toBe(true);
    expect(events[0]).toBe('up');
    expect(events[1]).toMatch(/^down: .*EIO/);
    expect(events.at(-1)).toBe('up');
    // While the link pointed nowhere, each attempt failed and was reported.
    expect(events.slice(2, -1).every((event) => event.startsWith('down: '))).toBe(true);
  });
});

describe('watchPrinter over TCP', () => {
  it('sees the printer go away and come back; health follows', async () => {
    let emulator = await startPrinterEmulator();
    const { port } = emulator;
    cleanups.push(() => emulator.close());
    // The status request's timeout is far above a busy machine's round trip: a slow answer is not a lost printer.
    const printer = new ReceiptPrinter({ host: '127.0.0.1', port }, { timeoutMs: 5_000 });
    const watch = watchPrinter(printer, { pollMs: 20, backoff: fastBackoff() });
    cleanups.push(() => watch.stop());

    const up = nextEventArgs(watch, 'up', { what: 'the printer watch to see the printer' });
    watch.start();
    expect(await up).toEqual([{ online: true, coverOpen: false, paperEnd: false, paperNearEnd: false }]);
    expect(printer.health()).toMatchObject({ present: true, ready: true });

    const down = nextEventArgs<[Error]>(watch, 'down', { what: 'the printer watch to see the printer gone' });
    await emulator.close();
    const [reason] = await down;
    expect(reason.message).toMatch(/not reachable: ECONNREFUSED/);
    expect(printer.health()).toMatchObject({ present: false, ready: false, fault: { code: 'unreachable' } });

    const upAgain = nextEventArgs(watch, 'up', { what: 'the printer watch to see the printer back' });
    emulator = await startPrinterEmulator({ port });
    emulator.setStatus({ paperNearEnd: true });
    await upAgain;
    expect(printer.health()).toMatchObject({ present: true, ready: true, fault: null, paper: 'near-end' });
  });
});
