import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CARD_RECORD_LENGTH, encodeCardRecord, parseCardKey, verifyCardRecord } from '../../shared/card-data.ts';

const KEY = Buffer.alloc(32, 0x42);
const OTHER_KEY = Buffer.alloc(32, 0x43);
const UID = '04A22B1C3D4E80';

const uids = fc.oneof(...[4, 7, 10].map((length) => fc.uint8Array({ minLength: length, maxLength: length })))
  .map((bytes) => Buffer.from(bytes).toString('hex').toUpperCase());
const cardNumbers = fc.stringMatching(/^\d{16}$/);

describe('member card record', () => {
  it('has the documented layout: "MK", version 1, BCD number, 8-byte MAC, zero padding to 32 bytes', () => {
    const record = encodeCardRecord({ uid: UID, cardNumber: '6200123412345678' }, KEY);
    expect(record).toHaveLength(CARD_RECORD_LENGTH);
    expect(record.subarray(0, 12).toString('hex')).toBe('4d4b01006200123412345678');
    expect(record.subarray(20)).toEqual(Buffer.alloc(12));
    expect(verifyCardRecord(UID, record, KEY)).toEqual({ ok: true, cardNumber: '6200123412345678' });
  });

  it('refuses the record on another UID (a magic card), under another key, or cut short', () => {
    const record = encodeCardRecord({ uid: UID, cardNumber: '6200123412345678' }, KEY);
    expect(verifyCardRecord('04A22B1C3D4E81', record, KEY)).toEqual({ ok: false, reason: 'mac-mismatch' });
    expect(verifyCardRecord(UID, record, OTHER_KEY)).toEqual({ ok: false, reason: 'mac-mismatch' });
    expect(verifyCardRecord(UID, record.subarray(0, 20), KEY)).toEqual({ ok: false, reason: 'bad-format' });
  });

  it.each([
    ['zeroed memory', Buffer.alloc(32)],
    ['erased memory (FF)', Buffer.alloc(32, 0xff)],
    ['an empty NDEF message (NTAG factory state)', Buffer.concat([Buffer.from('0300FE', 'hex'), Buffer.alloc(29)])],
  ])('calls %s blank', (_name, bytes) => {
    expect(verifyCardRecord(UID, bytes, KEY)).toEqual({ ok: false, reason: 'blank' });
  });

  it('tells an unknown version from a foreign format', () => {
    const record = encodeCardRecord({ uid: UID, cardNumber: '6200123412345678' }, KEY);
    record[2] = 0x02;
    expect(verifyCardRecord(UID, record, KEY)).toEqual({ ok: false, reason: 'unsupported-version' });
    expect(verifyCardRecord(UID, Buffer.from('NDEF and other things written here'), KEY)).toEqual({ ok: false, reason: 'bad-format' });
  });

  it('rejects bad inputs to encode and a bad key, without echoing the key', () => {
    expect(() => encodeCardRecord({ uid: UID, cardNumber: '62001234' }, KEY)).toThrow(/16 decimal digits/);
    expect(() => encodeCardRecord({ uid: UID, cardNumber: '6200123412345678' }, Buffer.alloc(16))).toThrow(/32 bytes/);
    expect(parseCardKey('ab'.repeat(32))).toEqual(Buffer.alloc(32, 0xab));
    expect(() => parseCardKey('secret-key-material')).toThrow(/^the card key must be 64 hex digits$/);
  });

  describe('properties', () => {
    it('encode → verify round-trips for any UID and card number', () => {
      fc.assert(fc.property(uids, cardNumbers, (uid, cardNumber) => {
        expect(verifyCardRecord(uid, encodeCardRecord({ uid, cardNumber }, KEY), KEY)).toEqual({ ok: true, cardNumber });
      }));
    });

    it('any single flipped bit makes the record fail', () => {
      fc.assert(fc.property(uids, cardNumbers, fc.integer({ min: 0, max: CARD_RECORD_LENGTH * 8 - 1 }), (uid, cardNumber, bit) => {
        const record = encodeCardRecord({ uid, cardNumber }, KEY);
        record[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyCardRecord(uid, record, KEY).ok).toBe(false);
      }));
    });

    it('random bytes never verify and never throw', () => {
      fc.assert(fc.property(uids, fc.uint8Array({ maxLength: 64 }), (uid, bytes) => {
        expect(verifyCardRecord(uid, bytes, KEY).ok).toBe(false);
      }), { numRuns: 2000 });
    });

    it('random bytes behind a valid header never verify either', () => {
      fc.assert(fc.property(uids, fc.uint8Array({ minLength: 28, maxLength: 28 }), (uid, rest) => {
        expect(verifyCardRecord(uid, Buffer.concat([Buffer.from('4d4b0100', 'hex'), rest]), KEY).ok).toBe(false);
      }), { numRuns: 2000 });
    });
  });
});
