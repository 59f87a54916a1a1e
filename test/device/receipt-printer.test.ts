import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import iconv from 'iconv-lite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { PrinterError } from '../../device/printer/printer-error.ts';
import { displayWidth, formatReceiptTime, renderTopUpReceipt, type TopUpReceipt } from '../../device/printer/receipt.ts';
import { topUpReceipt } from '../helpers/fixtures.ts';
import { nextEventArgs } from '../helpers/events.ts';

const receipt = topUpReceipt;

describe('renderTopUpReceipt', () => {
  const texts = (r: TopUpReceipt, columns?: number) =>
    renderTopUpReceipt(r, columns).flatMap((line) => (line.kind === 'text' ? [line.text] : []));

  it('shows amount, balance total with its principal/bonus split, points, time in China, device, tx', () => {
    const lines = texts(receipt);
    expect(lines).toContain('充值金额 Top-up         ￥100.00');
    expect(lines).toContain('储值余额 Balance        ￥170.00');
    expect(lines).toContain('  本金 Principal        ￥150.00');
    expect(lines).toContain('  赠送 Bonus             ￥20.00');
    expect(lines).toContain('积分 Points                  350');
    expect(lines).toContain('时间 Time    2025-01-03 01:45:08');
    expect(lines).toContain('设备 Device         kiosk-01 #42');
    expect(lines).toContain(receipt.txId);
    expect(lines).not.toContain('待同步 Pending sync');
  });

  it('centres the store name and title, and puts the tx id in the QR code', () => {
    const [store, title] = renderTopUpReceipt(receipt);
    expect(store).toEqual({ kind: 'text', text: receipt.storeName, align: 'center', bold: true, tall: true });
    expect(title).toMatchObject({ text: '充值凭条 / Top-up receipt', align: 'center' });
    expect(renderTopUpReceipt(receipt).filter((line) => line.kind === 'qr')).toEqual([{ kind: 'qr', data: receipt.txId }]);
  });

  it('says "pending sync" when the hub has not confirmed the top-up', () => {
    expect(texts({ ...receipt, pendingSync: true })).toContain('待同步 Pending sync');
  });

  it('fits rows to the paper width, counting a Chinese character as two columns', () => {
    for (const columns of [32, 48]) {
      const rows = texts(receipt, columns).filter((line) => line !== receipt.txId && line !== receipt.storeName);
      for (const line of rows) expect(displayWidth(line)).toBeLessThanOrEqual(columns);
      expect(texts(receipt, columns)).toContain('-'.repeat(columns));
    }
  });

  it('formats times in Asia/Shanghai across a date change', () => {
    expect(formatReceiptTime(new Date('2024-12-31T16:00:00Z'))).toBe('2025-01-01 00:00:00');
  });
});

describe('ReceiptPrinter → printer emulator over TCP', () => {
  let emulator: TcpPrinterEmulator;
  let printer: ReceiptPrinter;

  beforeEach(async () => {
    emulator = await startPrinterEmulator();
    printer = new ReceiptPrinter({ host: '127.0.0.1', port: emulator.port }, { timeoutMs: 1_000 });
  });

  afterEach(() => emulator.close());

  it('prints a receipt the emulator decodes back to the same text, QR and all', async () => {
    const printed = nextEventArgs<[string]>(emulator, 'receipt', { what: 'the receipt to be printed' });
    await printer.printTopUp({ ...receipt, pendingSync: true });
    const [text] = await printed;
    const lines = text.split('\n');
    expect(lines[0]).toBe('旗舰店 Flagship Store');
    expect(lines).toContain('充值凭条 / Top-up receipt');
    expect(lines).toContain('会员 Member                 张三');
    expect(lines).toContain('充值金额 Top-up         ￥100.00');
    expect(lines).toContain('储值余额 Balance        ￥170.00');
    expect(lines).toContain(`[QR:${receipt.txId}]`);
    expect(lines).toContain('待同步 Pending sync');
    expect(lines.at(-1)).toBe('谢谢惠顾 Thank you');
    expect(emulator.receipts).toEqual([text]);
  });

  it.each([
    ['healthy', {}, { online: true, coverOpen: false, paperEnd: false, paperNearEnd: false }],
    ['paper near end', { paperNearEnd: true }, { online: true, coverOpen: false, paperEnd: false, paperNearEnd: true }],
    ['paper end', { paperEnd: true }, { online: false, coverOpen: false, paperEnd: true, paperNearEnd: false }],
    ['cover open', { coverOpen: true }, { online: false, coverOpen: true, paperEnd: false, paperNearEnd: false }],
    ['offline', { offline: true }, { online: false, coverOpen: false, paperEnd: false, paperNearEnd: false }],
  ])('reads the status over DLE EOT: %s', async (_name, state, expected) => {
    emulator.setStatus(state);
    expect(await printer.printerStatus()).toEqual(expected);
  });

  it.each([
    [{ paperEnd: true }, /cannot print: out of paper/],
    [{ coverOpen: true }, /cannot print: cover open/],
    [{ offline: true }, /cannot print: offline/],
  ])('refuses to print when the printer cannot (%o), and sends no receipt', async (state, message) => {
    emulator.setStatus(state);
    const failure = printer.printTopUp(receipt);
    await expect(failure).rejects.toThrow(message);
    await expect(failure).rejects.toMatchObject({ code: 'not-ready' });
    expect(emulator.receipts).toEqual([]);
  });

  it('prints with paper near its end', async () => {
    emulator.setStatus({ paperNearEnd: true });
    await printer.printTopUp(receipt);
    expect(emulator.receipts).toHaveLength(1);
  });
});

/** A TCP peer that records what it gets and answers status requests as told: for byte-level checks. */
async function rawPrinter(answer: (request: Buffer, socket: Socket) => void): Promise<{ server: Server; port: number; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      answer(chunk, socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received: () => Buffer.concat(chunks) };
}

describe('ReceiptPrinter on the wire', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('sends GB18030 text, Chinese mode (FS &), standard QR (GS ( k) and a cut, with no ESC 4/5, status before and after', async () => {
    const peer = await rawPrinter((request, socket) => {
      if (request[0] === 0x10) socket.write(Buffer.from([0x12]));
    });
    servers.push(peer.server);
    await new ReceiptPrinter({ host: '127.0.0.1', port: peer.port }).printTopUp(receipt);
    const wire = peer.received();
    expect(wire.includes(iconv.encode('充值凭条', 'gb18030'))).toBe(true);
    expect(wire.includes(Buffer.from([0x1b, 0x40, 0x1c, 0x26]))).toBe(true);
    const data = Buffer.from(receipt.txId);
    expect(wire.includes(Buffer.concat([Buffer.from([0x1d, 0x28, 0x6b, data.length + 3, 0x00, 0x31, 0x50, 0x30]), data]))).toBe(true);
    expect(wire.includes(Buffer.from([0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30]))).toBe(true);
    // The job ends with the cut, then the printer is asked again whether it printed (DLE EOT 1, 2, 4).
    expect(wire.subarray(-12)).toEqual(Buffer.from([0x1d, 0x56, 0x00, 0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]));
    expect(wire.includes(Buffer.from([0x1b, 0x35]))).toBe(false);
  });

  it('says clearly when nothing listens on the printer port', async () => {
    const emulator = await startPrinterEmulator();
    const { port } = emulator;
    await emulator.close();
    const failure = new ReceiptPrinter({ host: '127.0.0.1', port }).printTopUp(receipt);
    await expect(failure).rejects.toThrow(new RegExp(`receipt printer at 127\\.0\\.0\\.1:${port} is not reachable: ECONNREFUSED`));
    await expect(failure).rejects.toBeInstanceOf(PrinterError);
  });

  it('says clearly when the printer does not answer a status request', async () => {
    const silent = await rawPrinter(() => undefined);
    servers.push(silent.server);
    const failure = new ReceiptPrinter({ host: '127.0.0.1', port: silent.port }, { timeoutMs: 200 }).printerStatus();
    await expect(failure).rejects.toThrow(/did not answer within 200 ms/);
    await expect(failure).rejects.toMatchObject({ code: 'no-response' });
  });

  it('rejects an answer that is not a status byte', async () => {
    const confused = await rawPrinter((_request, socket) => socket.write(Buffer.from([0xff])));
    servers.push(confused.server);
    const failure = new ReceiptPrinter({ host: '127.0.0.1', port: confused.port }).printerStatus();
    await expect(failure).rejects.toThrow(/answered DLE EOT 1 with 0xff, not a status byte/);
  });
});
