import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import iconv from 'iconv-lite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EscPosParser } from '../../device/emulators/escpos-parser.ts';
import { startPrinterEmulator, statusByte, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { nextEvent, nextEventArgs } from '../helpers/events.ts';

const gb = (text: string) => iconv.encode(text, 'gb18030');
const bytes = (...values: number[]) => Buffer.from(values);
const CUT = bytes(0x1d, 0x56, 0x00);

describe('EscPosParser', () => {
  it('decodes GB18030 text between formatting commands and ends the receipt at the cut', () => {
    const parser = new EscPosParser();
    const stream = Buffer.concat([
      bytes(0x1b, 0x40, 0x1c, 0x26, 0x1b, 0x74, 0x00, 0x1b, 0x61, 0x01, 0x1b, 0x45, 0x01, 0x1d, 0x21, 0x11, 0x1b, 0x21, 0x00),
      gb('旗舰店 Store\n'),
      bytes(0x1b, 0x35, 0x1b, 0x2d, 0x00, 0x1c, 0x2e),
      gb('充值 ¥100.00 €'),
      bytes(0x1b, 0x64, 0x02),
      gb('tail\n\n\n'),
      bytes(0x1d, 0x56, 0x41, 0x03),
    ]);
    const events = parser.push(stream);
    expect(events).toMatchObject([{ type: 'receipt', text: '旗舰店 Store\n充值 ¥100.00 €\n\ntail', truncated: false }]);
    // ESC ! 0 after GS ! and ESC E resets size and emphasis; the alignment stays.
    const [job] = events;
    expect(job?.type === 'receipt' && job.lines[0]).toEqual({ kind: 'text', text: '旗舰店 Store', align: 'center', bold: false, width: 1, height: 1 });
  });

  it('keeps the print mode of each line: alignment, emphasis, GS ! magnification; ESC @ resets it', () => {
    const parser = new EscPosParser();
    const [job] = parser.push(Buffer.concat([
      bytes(0x1b, 0x61, 0x01, 0x1b, 0x45, 0x01, 0x1d, 0x21, 0x11), gb('大字\n'),
      bytes(0x1b, 0x40, 0x1b, 0x61, 0x32), gb('right\n'),
      CUT,
    ]));
    expect(job).toMatchObject({ lines: [
      { kind: 'text', text: '大字', align: 'center', bold: true, width: 2, height: 2 },
      { kind: 'text', text: 'right', align: 'right', bold: false, width: 1, height: 1 },
    ] });
  });

  it('gives the same result whatever the chunking, even inside a multi-byte character or a command', () => {
    const stream = Buffer.concat([gb('会员 张三\n'), bytes(0x1b, 0x61, 0x01), gb('积分 350\n'), CUT]);
    const parser = new EscPosParser();
    const events = [...stream].flatMap((byte) => parser.push(bytes(byte)));
    expect(events).toMatchObject([{ type: 'receipt', text: '会员 张三\n积分 350' }]);
  });

  it('records a standard QR (GS ( k store + print) as a [QR:…] line', () => {
    const data = Buffer.from('0190f3e2-7c1a-7b3e-9a55-3f1f0c2d4e5f');
    const parser = new EscPosParser();
    const events = parser.push(Buffer.concat([
      gb('before'),
      bytes(0x1d, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00),
      bytes(0x1d, 0x28, 0x6b, data.length + 3, 0x00, 0x31, 0x50, 0x30), data,
      bytes(0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30),
      CUT,
    ]));
    expect(events).toMatchObject([{ type: 'receipt', text: `before\n[QR:${data.toString()}]` }]);
    expect(events[0]).toMatchObject({ lines: [{ kind: 'text' }, { kind: 'qr', data: data.toString() }] });
  });

  it('reports DLE EOT n as status requests, in stream order', () => {
    const parser = new EscPosParser();
    expect(parser.push(bytes(0x10, 0x04, 0x01, 0x10, 0x04))).toEqual([{ type: 'status-request', n: 1 }]);
    expect(parser.push(bytes(0x04))).toEqual([{ type: 'status-request', n: 4 }]);
  });

  it('ESC @ drops the unprinted line; a cut with nothing printed is no receipt', () => {
    const parser = new EscPosParser();
    expect(parser.push(Buffer.concat([gb('lost'), bytes(0x1b, 0x40), CUT]))).toEqual([]);
  });
});

describe('status bytes (DLE EOT n)', () => {
  const healthy = { paperEnd: false, paperNearEnd: false, coverOpen: false, offline: false };

  it.each([
    ['healthy', healthy, [0x12, 0x12, 0x12, 0x12]],
    ['offline', { ...healthy, offline: true }, [0x1a, 0x12, 0x12, 0x12]],
    ['cover open', { ...healthy, coverOpen: true }, [0x1a, 0x16, 0x12, 0x12]],
    ['paper end', { ...healthy, paperEnd: true }, [0x1a, 0x32, 0x12, 0x72]],
    ['paper near end', { ...healthy, paperNearEnd: true }, [0x12, 0x12, 0x12, 0x1e]],
  ])('%s', (_name, status, expected) => {
    expect([1, 2, 3, 4].map((n) => statusByte(n, status))).toEqual(expected);
    expect(statusByte(7, status)).toBeUndefined();
  });
});

describe('PrinterEmulator over TCP', () => {
  let printer: TcpPrinterEmulator;
  let client: Socket;

  beforeEach(async () => {
    printer = await startPrinterEmulator();
    client = connect(printer.port, '127.0.0.1');
    await once(client, 'connect');
  });

  afterEach(async () => {
    client.destroy();
    await printer.close();
  });

  it('answers DLE EOT at once, reflecting setStatus', async () => {
    printer.setStatus({ coverOpen: true });
    client.write(bytes(0x10, 0x04, 0x02));
    const [answer] = (await once(client, 'data')) as [Buffer];
    expect(answer).toEqual(bytes(0x16));
  });

  it('survives garbage and still prints the next receipt', async () => {
    // Every byte value except GS, whose GS ( k could legitimately wait for up to 64 KiB of data.
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 73 + 41) % 256).filter((b) => b !== 0x1d));
    // Line feeds complete whatever command the garbage ended in; the cut then ends the garbage receipt.
    client.write(Buffer.concat([garbage, bytes(0x1b, 0x1c, 0x10, 0xff, 0xfe), gb('\n\n\n\n'), CUT]));
    const clean = Buffer.concat([bytes(0x1b, 0x40), gb('第二张 second\n'), CUT]);
    const receipts = nextEvent(printer, 'receipt', () => printer.receipts.length === 2, { what: 'the second receipt' }).then(() => printer.receipts);
    client.write(clean);
    const [, second] = await receipts;
    expect(second).toBe('第二张 second');
  });

  it('survives a client that resets mid-command', async () => {
    client.write(bytes(0x1d, 0x28, 0x6b, 0xff, 0xff, 0x31));
    client.resetAndDestroy();
    const again = connect(printer.port, '127.0.0.1');
    await once(again, 'connect');
    const receipt = nextEventArgs<[string]>(printer, 'receipt', { what: 'the receipt after the reset' });
    again.end(Buffer.concat([gb('ok\n'), CUT]));
    expect(await receipt).toEqual(['ok']);
  });
});
