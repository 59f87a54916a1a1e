import { mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Device as HidDeviceInfo } from 'node-hid';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { startSerialPrinterEmulator, type SerialPrinterEmulator } from '../../device/emulators/escpos-serial-printer.ts';
import { discoverHardware, formatDiscoveryReport, listSerialDevices } from '../../device/hardware/discovery.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';

const magtek: HidDeviceInfo = {
  vendorId: 0x0801, productId: 0x0011, path: '/dev/hidraw3', manufacturer: 'Mag-Tek', product: 'USB Swipe Reader',
  release: 0x0100, interface: 0, usagePage: 0xff00, usage: 1,
};
const keyboard: HidDeviceInfo = { vendorId: 0x046d, productId: 0xc31c, path: '/dev/hidraw0', product: 'Keyboard', release: 1, interface: 0, usagePage: 1 };

/**
 * Two real ptys (socat) stand in for a bill validator and a serial printer on USB-serial adapters.
 * SerialPort.list() does not list ptys (it reads udev's USB data), so the list is given here the way it
 * reports a USB adapter, pointing at the real tty; the by-id links are real symlinks in a temp dir.
 */
describe('discoverHardware', () => {
  let validator: PtyPair;
  let printerPty: PtyPair;
  let serialPrinter: SerialPrinterEmulator;
  let byIdDir: string;
  let validatorTty: string;
  let tcpPrinter: TcpPrinterEmulator;

  beforeAll(async () => {
    [validator, printerPty] = await Promise.all([openPtyPair(), openPtyPair()]);
    serialPrinter = await startSerialPrinterEmulator({ path: printerPty.devicePath });
    tcpPrinter = await startPrinterEmulator();
    byIdDir = await mkdtemp(join(tmpdir(), 'by-id-'));
    validatorTty = await realpath(validator.hostPath);
    await symlink(validator.hostPath, join(byIdDir, 'usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'));
    await symlink(printerPty.hostPath, join(byIdDir, 'usb-Prolific_PL2303-if00-port0'));
    await symlink(join(byIdDir, 'gone'), join(byIdDir, 'usb-dangling-if00-port0'));
  });

  afterAll(async () => {
    await serialPrinter.close();
    await tcpPrinter.close();
    await Promise.all([validator.stop(), printerPty.stop()]);
    await rm(byIdDir, { recursive: true, force: true });
  });

  const sources = () => ({
    byIdDir,
    listSerialPorts: async () => [{ path: validatorTty, vendorId: '0403', productId: '6001', serialNumber: 'A1B2C3', manufacturer: 'FTDI' }],
    listHidDevices: async () => [keyboard, magtek],
    listPcscReaders: async () => ['ACS ACR122U PICC Interface 00 00'],
  });

  it('SerialPort.list() does not see ptys, which is why the tests give the list', async () => {
    expect((await SerialPort.list()).map((port) => port.path)).not.toContain(validatorTty);
  });

  it('lists serial devices under their stable by-id links, skipping dangling links', async () => {
    const devices = await listSerialDevices(sources());
    expect(devices).toEqual([
      { path: join(byIdDir, 'usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'), device: validatorTty, vendorId: '0403', productId: '6001', serialNumber: 'A1B2C3', manufacturer: 'FTDI' },
      { path: join(byIdDir, 'usb-Prolific_PL2303-if00-port0'), device: await realpath(printerPty.hostPath), vendorId: undefined, productId: undefined, serialNumber: undefined, manufacturer: undefined },
    ]);
  });

  it('finds every configured peripheral, and the serial printer it found really prints', async () => {
    const printerLink = join(byIdDir, 'usb-Prolific_PL2303-if00-port0');
    const report = await discoverHardware(
      {
        billValidator: { vendorId: '0x0403', productId: '6001' },
        printer: { kind: 'serial', match: { path: printerLink } },
        magstripe: { vendorId: 0x0801 },
        nfcReader: { nameContains: 'acr122' },
      },
      sources(),
    );
    expect(report.findings).toMatchObject([
      { role: 'bill-validator', status: 'found', path: join(byIdDir, 'usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0') },
      { role: 'printer', status: 'found', path: printerLink },
      { role: 'magstripe-reader', status: 'found', path: '/dev/hidraw3', detail: 'Mag-Tek USB Swipe Reader 0801:0011 at /dev/hidraw3' },
      { role: 'nfc-reader', status: 'found', path: 'ACS ACR122U PICC Interface 00 00' },
    ]);
    const printer = new ReceiptPrinter({ kind: 'serial', path: report.findings[1]!.path!, baudRate: 9600 }, { timeoutMs: 1_000 });
    expect(await printer.canPrint()).toEqual({ ok: true });
  });

  it('says what is missing, what was configured and what it saw instead', async () => {
    const { port } = tcpPrinter;
    await tcpPrinter.close();
    const report = await discoverHardware(
      {
        billValidator: { vendorId: '1a86', productId: '7523' },
        printer: { kind: 'tcp', host: '127.0.0.1', port },
        magstripe: { vendorId: 0x0801, productId: 0x0002 },
        nfcReader: { nameContains: 'OMNIKEY' },
      },
      sources(),
    );
    tcpPrinter = await startPrinterEmulator({ port });
    expect(report.findings).toMatchObject([
      { role: 'bill-validator', status: 'missing', configured: 'vendor 1a86, product 7523' },
      { role: 'printer', status: 'missing', detail: `127.0.0.1:${port} is not reachable: ECONNREFUSED` },
      { role: 'magstripe-reader', status: 'missing', detail: expect.stringContaining('2 HID devices seen') },
      { role: 'nfc-reader', status: 'missing', detail: 'readers seen: ACS ACR122U PICC Interface 00 00 (is pcscd running?)' },
    ]);
    const text = formatDiscoveryReport(report);
    expect(text).toContain('bill-validator   MISSING        -');
    expect(text).toContain(`usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0 → ${validatorTty} [0403:6001 A1B2C3]`);
    expect(text).toContain('0801:0011 Mag-Tek USB Swipe Reader /dev/hidraw3');
  });

  it('with the defaults: a TCP printer on 9100 if one answers, MagTek by vendor, nothing assumed for the bill validator', async () => {
    const report = await discoverHardware(undefined, { byIdDir, listSerialPorts: async () => [], listHidDevices: async () => [magtek] });
    // Whether something listens on this machine's port 9100 is not the test's business; what was probed is.
    expect(report.findings).toMatchObject([
      { role: 'bill-validator', status: 'not-configured' },
      { role: 'printer', configured: 'tcp 127.0.0.1:9100' },
      { role: 'magstripe-reader', status: 'found', configured: 'HID vendor 0801' },
      { role: 'nfc-reader', status: 'not-checked' },
    ]);
    expect(report.findings[0]!.detail).toContain('usb-Prolific_PL2303-if00-port0');
    expect(formatDiscoveryReport(report)).toContain('PC/SC readers: not checked');
  });

  it('a configured path that exists is found and its stable by-id path named; one that does not is missing', async () => {
    const found = await discoverHardware({ billValidator: { path: validatorTty } }, sources());
    expect(found.findings[0]).toMatchObject({ status: 'found', path: validatorTty, detail: expect.stringContaining(`its stable path is ${join(byIdDir, 'usb-FTDI')}`) });
    const missing = await discoverHardware({ billValidator: { path: '/dev/serial/by-id/usb-nothing-here' } }, sources());
    expect(missing.findings[0]).toMatchObject({ status: 'missing', detail: expect.stringContaining('does not exist') });
  });

  /** Runs `body` with a PATH that holds no udevadm, as on a fresh Debian without the udev package. */
  async function withoutUdevadm<T>(body: () => Promise<T>): Promise<T> {
    const emptyBin = await mkdtemp(join(tmpdir(), 'no-udevadm-'));
    const path = process.env.PATH;
    process.env.PATH = emptyBin;
    try {
      return await body();
    } finally {
      process.env.PATH = path;
      await rm(emptyBin, { recursive: true, force: true });
    }
  }

  it('without udevadm: explains what is missing and how to install it, and still finds the rest', async () => {
    const report = await withoutUdevadm(() =>
      discoverHardware(
        {
          billValidator: { vendorId: '0403', productId: '6001' },
          printer: { kind: 'tcp', host: '127.0.0.1', port: tcpPrinter.port },
          magstripe: { vendorId: 0x0801 },
          nfcReader: { nameContains: 'acr122' },
        },
        // The real serialport listing (it spawns udevadm); HID and PC/SC as on the other tests.
        { byIdDir, listHidDevices: async () => [keyboard, magtek], listPcscReaders: async () => ['ACS ACR122U PICC Interface 00 00'] },
      ),
    );
    expect(report.problems).toEqual([
      {
        source: 'serial-ports',
        code: 'udevadm-missing',
        cause: 'spawn udevadm ENOENT',
        message: { zh: expect.stringContaining('apt install udev'), en: expect.stringContaining('apt install udev') },
      },
    ]);
    expect(report.problems[0]!.message.zh).toContain('缺少 udevadm');
    expect(report.problems[0]!.message.en).toContain('udevadm program (package udev) is not installed');
    // No USB ids to match by: not checked rather than "missing"; the by-id links are still listed.
    expect(report.findings).toMatchObject([
      { role: 'bill-validator', status: 'not-checked', detail: expect.stringContaining('apt install udev') },
      { role: 'printer', status: 'found' },
      { role: 'magstripe-reader', status: 'found', path: '/dev/hidraw3' },
      { role: 'nfc-reader', status: 'found', path: 'ACS ACR122U PICC Interface 00 00' },
    ]);
    expect(report.serialDevices.map((device) => device.path)).toEqual([
      join(byIdDir, 'usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'),
      join(byIdDir, 'usb-Prolific_PL2303-if00-port0'),
    ]);
    const text = formatDiscoveryReport(report);
    expect(text).toContain('PROBLEM serial-ports (spawn udevadm ENOENT):');
    expect(text).toContain('apt install udev');

    // A device configured by path needs no listing at all.
    const byPath = await withoutUdevadm(() => discoverHardware({ billValidator: { path: validatorTty } }, { byIdDir, listHidDevices: async () => [] }));
    expect(byPath.findings[0]).toMatchObject({ status: 'found', path: validatorTty });
  });

  it('other listing failures are reported as they are, without stopping discovery', async () => {
    const report = await discoverHardware(
      { magstripe: { vendorId: 0x0801 }, nfcReader: { nameContains: '' } },
      {
        byIdDir,
        listSerialPorts: async () => Promise.reject(new Error('Error listing ports udevadm exited with error code: 1')),
        listHidDevices: async () => Promise.reject(new Error('cannot open /dev/hidraw0')),
        listPcscReaders: async () => ['Virtual PCD 00 00'],
      },
    );
    expect(report.problems).toMatchObject([
      { source: 'serial-ports', code: 'listing-failed', message: { en: 'Cannot list serial ports: Error listing ports udevadm exited with error code: 1' } },
      { source: 'hid-devices', code: 'listing-failed', message: { zh: '无法列出 HID 设备：cannot open /dev/hidraw0' } },
    ]);
    expect(report.findings.at(-1)).toMatchObject({ role: 'nfc-reader', status: 'found' });
  });

  it('with udevadm installed (scripts/setup-system.sh installs udev), the real listing works', async () => {
    // Fails with a clear hint rather than "spawn udevadm ENOENT" if the setup script was not run.
    expect(() => execFileSync('udevadm', ['--version']), 'udevadm missing: run `bash scripts/setup-system.sh` (apt install udev)').not.toThrow();
    expect((await discoverHardware({}, { byIdDir, listHidDevices: async () => [] })).problems).toEqual([]);
  });

  it('enumerates HID devices with node-hid by default without failing where there are none', async () => {
    const report = await discoverHardware({ magstripe: { vendorId: 0x0801 } }, { byIdDir, listSerialPorts: async () => [] });
    expect(Array.isArray(report.hidDevices)).toBe(true);
  });
});
