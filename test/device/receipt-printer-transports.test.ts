import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import type { PrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { startSerialPrinterEmulator } from '../../device/emulators/escpos-serial-printer.ts';
import type { PrinterEndpoint } from '../../device/printer/printer-link.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import type { Voucher } from '../../device/printer/voucher.ts';
import { openPtyPair } from '../../device/emulators/serial-pty.ts';
import { topUpReceipt } from '../helpers/fixtures.ts';
import { nextEventArgs } from '../helpers/events.ts';

const receipt = topUpReceipt;

const voucher: Voucher = {
  kind: 'redemption',
  code: 'RDM-7K3Q-9XWD',
  item: '拿铁咖啡 Latte',
  validUntil: new Date('2025-02-01T15:59:00Z'),
  storeName: '旗舰店 Flagship Store',
  memberName: '张三丰',
  cardUidMasked: '****1C2D',
  deviceId: 'kiosk-01',
  txId: '0190f3e2-7c1a-7b3e-9a55-3f1f0c2d4e60',
  at: new Date('2025-01-02T17:45:08Z'),
};

interface Rig {
  emulator: PrinterEmulator;
  endpoint: PrinterEndpoint;
  /** An endpoint of the same kind where no printer is. */
  nowhere: PrinterEndpoint;
  stop(): Promise<void>;
}

const rigs: Record<'tcp' | 'serial', () => Promise<Rig>> = {
  async tcp() {
    const emulator = await startPrinterEmulator();
    const gone = await startPrinterEmulator();
    const freePort = gone.port;
    await gone.close();
    return {
      emulator,
      endpoint: { kind: 'tcp', host: '127.0.0.1', port: emulator.port },
      nowhere: { kind: 'tcp', host: '127.0.0.1', port: freePort },
      stop: () => emulator.close(),
    };
  },
  async serial() {
    const pair = await openPtyPair();
    const emulator = await startSerialPrinterEmulator({ path: pair.devicePath, baudRate: 19200 });
    return {
      emulator,
      endpoint: { kind: 'serial', path: pair.hostPath, baudRate: 19200 },
      nowhere: { kind: 'serial', path: `${pair.hostPath}-unplugged`, baudRate: 19200 },
      async stop() {
        await emulator.close();
        await pair.stop();
      },
    };
  },
};

describe.each(['tcp', 'serial'] as const)('ReceiptPrinter over %s', (transport) => {
  let rig: Rig;
  let printer: ReceiptPrinter;

  beforeEach(async () => {
    rig = await rigs[transport]();
    printer = new ReceiptPrinter(rig.endpoint, { timeoutMs: 1_000 });
  });

  afterEach(() => rig.stop());

  it('prints a receipt the emulator decodes back to the same GB18030 text and QR data', async () => {
    const printed = nextEventArgs<[string]>(rig.emulator, 'receipt', { what: 'the receipt to be printed' });
    await printer.printTopUp(receipt);
    const [text] = await printed;
    const lines = text.split('\n');
    expect(lines[0]).toBe('旗舰店 Flagship Store');
    expect(lines).toContain('充值金额 Top-up         ￥100.00');
    expect(lines).toContain(`[QR:${receipt.txId}]`);
    expect(lines.at(-1)).toBe('谢谢惠顾 Thank you');
    expect(printer.health()).toMatchObject({ present: true, ready: true, fault: null, paper: 'ok', counters: { printed: 1, failed: 0 } });
  });

  it('prints a voucher: code large, QR of the code, validity, masked member', async () => {
    expect(await printer.canPrint()).toEqual({ ok: true });
    expect(await printer.printVoucher(voucher)).toEqual({ status: 'printed' });
    const [job] = rig.emulator.jobs;
    const lines = job!.text.split('\n');
    expect(lines).toContain('兑换券 / Redemption voucher');
    expect(lines).toContain('拿铁咖啡 Latte');
    expect(lines).toContain('[QR:RDM-7K3Q-9XWD]');
    expect(lines).toContain('有效期 Valid to 2025-02-01 23:59');
    expect(lines).toContain('会员 Member                 张**');
    expect(job!.lines.find((line) => line.kind === 'text' && line.text === voucher.code)).toMatchObject({ align: 'center', bold: true, width: 2, height: 2 });
    expect(job!.truncated).toBe(false);
  });

  it.each([
    ['healthy', {}, { online: true, coverOpen: false, paperEnd: false, paperNearEnd: false }],
    ['paper near end', { paperNearEnd: true }, { online: true, coverOpen: false, paperEnd: false, paperNearEnd: true }],
    ['paper end', { paperEnd: true }, { online: false, coverOpen: false, paperEnd: true, paperNearEnd: false }],
    ['cover open', { coverOpen: true }, { online: false, coverOpen: true, paperEnd: false, paperNearEnd: false }],
  ])('reads the status over DLE EOT 1, 2, 4: %s', async (_name, state, expected) => {
    rig.emulator.setStatus(state);
    expect(await printer.printerStatus()).toEqual(expected);
  });

  it('does not offer a voucher without paper, and says why in both languages', async () => {
    rig.emulator.setStatus({ paperEnd: true });
    expect(await printer.canPrint()).toEqual({
      ok: false,
      reason: 'paper-end',
      message: { zh: '打印纸已用完，暂时无法打印，请联系店员', en: 'The printer is out of paper. Please ask staff.' },
    });
    expect(printer.health()).toMatchObject({ present: true, ready: false, paper: 'out', fault: { code: 'paper-end' } });
  });

  it('does not offer a voucher with the cover open', async () => {
    rig.emulator.setStatus({ coverOpen: true });
    expect(await printer.canPrint()).toMatchObject({ ok: false, reason: 'cover-open', message: { en: 'The printer cover is open. Please ask staff.' } });
    expect(await printer.printVoucher(voucher)).toMatchObject({ status: 'unprinted', reason: 'cover-open' });
    expect(rig.emulator.jobs).toEqual([]);
  });

  it('reports a voucher unprinted when the paper runs out part-way, and the slip is truncated', async () => {
    rig.emulator.loadPaper(5);
    expect(await printer.canPrint()).toEqual({ ok: true });
    const result = await printer.printVoucher(voucher);
    expect(result).toMatchObject({ status: 'unprinted', reason: 'paper-end', detail: 'out of paper while printing', message: { zh: expect.stringContaining('打印纸') } });
    const [job] = rig.emulator.jobs;
    expect(job!.truncated).toBe(true);
    expect(job!.text.split('\n')).toHaveLength(5);
    expect(job!.text).not.toContain('[QR:');
    expect(printer.health()).toMatchObject({ ready: false, paper: 'out', counters: { printed: 0, failed: 1 }, lastError: { message: 'out of paper while printing' } });
    // A new roll: the kiosk offers the same voucher again and it prints in full.
    rig.emulator.loadPaper();
    expect(await printer.printVoucher(voucher)).toEqual({ status: 'printed' });
    expect(rig.emulator.jobs[1]!.text).toContain('[QR:RDM-7K3Q-9XWD]');
  });

  it('says clearly when the printer cannot be reached, and health shows the fault', async () => {
    const absent = new ReceiptPrinter(rig.nowhere, { timeoutMs: 1_000 });
    const label = rig.nowhere.kind === 'tcp' ? `${rig.nowhere.host}:${rig.nowhere.port}` : rig.nowhere.path;
    await expect(absent.printTopUp(receipt)).rejects.toMatchObject({
      code: 'unreachable',
      message: expect.stringContaining(`receipt printer at ${label} is not reachable: `),
    });
    expect(await absent.canPrint()).toMatchObject({ ok: false, reason: 'unreachable', message: { en: 'The printer cannot be reached. Please ask staff.' } });
    expect(await absent.printVoucher(voucher)).toMatchObject({ status: 'unprinted', reason: 'unreachable' });
    expect(absent.health()).toMatchObject({
      name: label,
      present: false,
      ready: false,
      fault: { code: 'unreachable', message: 'receipt printer not reachable' },
      lastError: { message: expect.stringContaining('is not reachable') },
      counters: { printed: 0, failed: 2 },
    });
  });
});
