import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EscPosParser } from '../../device/emulators/escpos-parser.ts';
import { statusByte } from '../../device/emulators/escpos-printer.ts';
import { decodePrinterStatus, isStatusByte } from '../../device/printer/printer-status.ts';

/** Bytes that look like ESC/POS: command prefixes, QR functions, DLE EOT, text, cuts, mixed with noise. */
const escposish = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 16 }),
    fc.constantFrom(
      [0x1b, 0x40], [0x1b, 0x61, 0x01], [0x1d, 0x21, 0x11], [0x1c, 0x26], [0x10, 0x04, 0x02], [0x1d, 0x56, 0x00],
      [0x1d, 0x56, 0x41, 0x03], [0x1d, 0x28, 0x6b, 0x06, 0x00, 0x31, 0x50, 0x30, 0x41, 0x42, 0x43],
      [0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30], [0xb3, 0xe4, 0xd6, 0xb5, 0x0a], [0x81, 0x30, 0x81, 0x30],
    ).map((bytes) => Uint8Array.from(bytes)),
  ),
  { maxLength: 40 },
).map((parts) => Buffer.concat(parts));

describe('EscPosParser properties', () => {
  it('never throws on any byte stream, cut anywhere, in any chunking, with paper running out', () => {
    fc.assert(
      fc.property(escposish, fc.array(fc.nat(), { maxLength: 8 }), fc.option(fc.nat({ max: 5 })), (stream, cuts, paper) => {
        let left = paper;
        const parser = new EscPosParser({ takePaper: () => left === null || left-- > 0 });
        const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const to of [...points, stream.length]) {
          for (const event of parser.push(stream.subarray(from, to))) {
            if (event.type === 'receipt') expect(event.text).toBe(event.lines.map((l) => (l.kind === 'qr' ? `[QR:${l.data}]` : l.text)).join('\n'));
            else expect(event.n).toBeGreaterThanOrEqual(0);
          }
          from = to;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same jobs however the stream is chunked', () => {
    fc.assert(
      fc.property(escposish, fc.nat(), (stream, split) => {
        const at = split % (stream.length + 1);
        const whole = new EscPosParser().push(stream);
        const chunked = new EscPosParser();
        expect([...chunked.push(stream.subarray(0, at)), ...chunked.push(stream.subarray(at))]).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });
});

describe('status byte properties', () => {
  it('decodes any three status bytes without throwing', () => {
    const statusBytes = fc.nat({ max: 0xff }).map((b) => (b & ~0x93) | 0x12);
    fc.assert(
      fc.property(statusBytes, statusBytes, statusBytes, (a, b, c) => {
        expect(isStatusByte(a) && isStatusByte(b) && isStatusByte(c)).toBe(true);
        const status = decodePrinterStatus(a, b, c);
        expect(Object.values(status).every((flag) => typeof flag === 'boolean')).toBe(true);
      }),
    );
  });

  it('rejects every byte that is not a status byte (bit 0 or 7 set, bit 1 or 4 clear)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xff }).filter((b) => (b & 0x93) !== 0x12), (byte) => {
        expect(isStatusByte(byte)).toBe(false);
      }),
    );
  });

  it('every answer of the emulator is a status byte that decodes back to its state', () => {
    fc.assert(
      fc.property(fc.record({ paperEnd: fc.boolean(), paperNearEnd: fc.boolean(), coverOpen: fc.boolean(), offline: fc.boolean() }), (state) => {
        const answers = [1, 2, 4].map((n) => statusByte(n, state) ?? -1);
        expect(answers.every(isStatusByte)).toBe(true);
        const [printer = -1, cause = -1, paper = -1] = answers;
        expect(decodePrinterStatus(printer, cause, paper)).toEqual({
          online: !state.offline && !state.paperEnd && !state.coverOpen,
          coverOpen: state.coverOpen,
          paperEnd: state.paperEnd,
          paperNearEnd: state.paperNearEnd,
        });
      }),
    );
  });
});
