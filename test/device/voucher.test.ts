import { mkdir, writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { displayWidth } from '../../device/printer/receipt.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { maskMemberName, renderVoucher, type Voucher } from '../../device/printer/voucher.ts';
import { nextEventArgs } from '../helpers/events.ts';

const voucher: Voucher = {
  kind: 'coupon',
  code: 'CPN-4F2A-88QZ',
  item: '满50减10 ￥10 off ￥50',
  validUntil: new Date('2025-03-31T15:59:00Z'),
  storeName: '旗舰店 Flagship Store',
  memberName: 'Li Lei',
  cardUidMasked: '****9F01',
  deviceId: 'kiosk-01',
  txId: '0190f3e2-7c1a-7b3e-9a55-3f1f0c2d4e61',
  at: new Date('2025-01-02T17:45:08Z'),
};

describe('renderVoucher', () => {
  const texts = (columns?: number) => renderVoucher(voucher, columns).flatMap((line) => (line.kind === 'text' ? [line.text] : []));

  it('shows title, item, the code large and as the only QR code, validity in China time, store, masked member', () => {
    const lines = renderVoucher(voucher);
    expect(lines[0]).toMatchObject({ text: '旗舰店 Flagship Store', align: 'center' });
    expect(lines[1]).toMatchObject({ text: '优惠券 / Coupon', tall: true });
    expect(lines.find((line) => line.kind === 'text' && line.text === voucher.code)).toEqual({
      kind: 'text', text: voucher.code, align: 'center', bold: true, tall: true, wide: true,
    });
    expect(lines.filter((line) => line.kind === 'qr')).toEqual([{ kind: 'qr', data: voucher.code }]);
    expect(texts()).toContain('有效期 Valid to 2025-03-31 23:59');
    expect(texts()).toContain('会员 Member                 L***');
    expect(texts()).toContain('卡号 Card               ****9F01');
  });

  it('fits the paper: the double-width code in half the columns, every other line but the tx id in all of them', () => {
    for (const columns of [32, 48]) {
      for (const line of renderVoucher(voucher, columns)) {
        if (line.kind !== 'text' || line.text.trim() === voucher.txId) continue;
        expect(displayWidth(line.text) * (line.wide ? 2 : 1)).toBeLessThanOrEqual(columns);
      }
    }
  });

  it('masks member names but keeps the first character', () => {
    expect([maskMemberName('张三'), maskMemberName('欧阳娜娜'), maskMemberName(' Li Lei '), maskMemberName('')]).toEqual(['张*', '欧***', 'L***', '']);
  });
});

/** Decodes the pixels with pngjs: the PNG must decode, not merely start with the signature. */
function darkPixels(png: Buffer): { width: number; height: number; dark: number } {
  const image = PNG.sync.read(png);
  let dark = 0;
  for (let i = 0; i < image.data.length; i += 4) if (image.data[i]! < 128) dark++;
  return { width: image.width, height: image.height, dark };
}

describe('printer emulator pictures', () => {
  let emulator: TcpPrinterEmulator;
  beforeEach(async () => {
    emulator = await startPrinterEmulator();
  });
  afterEach(() => emulator.close());

  it('renders a printed voucher to a PNG (written to test-artifacts/voucher.png)', async () => {
    await expect(emulator.lastReceiptPng()).rejects.toThrow(/printed nothing yet/);
    const printed = nextEventArgs(emulator, 'receipt', { what: 'the voucher to be printed' });
    await new ReceiptPrinter({ host: '127.0.0.1', port: emulator.port }).printVoucher(voucher);
    await printed;
    const png = await emulator.lastReceiptPng();
    await mkdir('test-artifacts', { recursive: true });
    await writeFile('test-artifacts/voucher.png', png);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const { width, height, dark } = darkPixels(png);
    expect(width).toBe(416); // 384 dots of 58 mm paper and the margins
    expect(height).toBeGreaterThan(600);
    expect(height).toBeLessThan(1500);
    expect(dark).toBeGreaterThan(5_000); // text and the QR box, not a blank slip
    expect(dark / (width * height)).toBeLessThan(0.5);
  });
});
