import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, hex } from '../../device/bill-validator/cctalk-frame.ts';
import { Header } from '../../device/bill-validator/cctalk-headers.ts';

const bytes = (text: string): Buffer => Buffer.from(text.replace(/ /g, ''), 'hex');

describe('ccTalk frames', () => {
  const worked: Array<[string, { dest: number; src: number; header: number; data?: number[] }, string]> = [
    ['simple poll', { dest: 40, src: 1, header: Header.simplePoll }, '28 00 01 FE D9'],
    ['ACK', { dest: 1, src: 40, header: Header.reply }, '01 00 28 00 D7'],
    ['read buffered bill events', { dest: 40, src: 1, header: Header.readBufferedBillEvents }, '28 00 01 9F 38'],
    ['master inhibit off (normal)', { dest: 40, src: 1, header: Header.modifyMasterInhibit, data: [1] }, '28 01 01 E4 01 F1'],
    ['enable bill types 1–16', { dest: 40, src: 1, header: Header.modifyInhibitStatus, data: [0xff, 0xff] }, '28 02 01 E7 FF FF F0'],
    ['route bill to stacker', { dest: 40, src: 1, header: Header.routeBill, data: [1] }, '28 01 01 9A 01 3B'],
    ['equipment category', { dest: 40, src: 1, header: Header.equipmentCategory }, '28 00 01 F5 E2'],
  ];

  it.each(worked)('%s encodes to and decodes from the worked frame', (_name, frame, wire) => {
    expect(hex(encodeFrame(frame))).toBe(wire);
    const decoded = decodeFrame(bytes(wire));
    expect(decoded).toEqual({ ok: true, frame: { dest: frame.dest, src: frame.src, header: frame.header, data: Buffer.from(frame.data ?? []) } });
  });

  it('rejects a bad checksum, a truncated frame and extra bytes, each with its reason', () => {
    expect(decodeFrame(bytes('28 00 01 FE D8'))).toMatchObject({ ok: false, reason: 'bad-checksum' });
    expect(decodeFrame(bytes('28 01 01 E4 01'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeFrame(bytes('28 00 01'))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeFrame(bytes(''))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeFrame(bytes('28 00 01 FE D9 00'))).toMatchObject({ ok: false, reason: 'length-mismatch' });
  });

  it('refuses to encode a field that is not a byte', () => {
    expect(() => encodeFrame({ dest: 256, src: 1, header: 254 })).toThrow(RangeError);
    expect(() => encodeFrame({ dest: 40, src: 1, header: 231, data: [300] })).toThrow(RangeError);
  });

  it('round-trips any frame, and any single corrupted byte is caught', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 255 }), fc.nat(), fc.integer({ min: 1, max: 255 }),
        (dest, src, header, data, position, delta) => {
          const wire = encodeFrame({ dest, src, header, data });
          expect(decodeFrame(wire)).toEqual({ ok: true, frame: { dest, src, header, data: Buffer.from(data) } });
          const corrupted = Buffer.from(wire);
          const at = position % wire.length;
          corrupted[at] = (corrupted[at]! + delta) % 256;
          expect(decodeFrame(corrupted).ok).toBe(false);
        },
      ),
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
        const result = decodeFrame(input);
        if (result.ok) expect(result.frame.data.length).toBe(input[1]);
        else expect(['truncated', 'length-mismatch', 'bad-checksum']).toContain(result.reason);
      }),
    );
  });
});
