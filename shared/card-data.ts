import { createHmac, timingSafeEqual } from 'node:crypto';
import { isCardNumber, normalizeCardUid } from './card.ts';

/**
 * The member record stored on an NFC card. The hub writes it when it issues a card; the kiosk reads and
 * verifies it. A MAC binds the card number to the card's UID under the chain's secret card key, so a
 * forged number or a record copied onto another card (even a "magic" card carrying the same UID as a
 * different record) does not verify. It does not stop a full clone of UID and record together — only
 * cards with on-chip cryptography (NTAG 424 DNA, DESFire) do that.
 *
 * Layout, 32 bytes = 8 NTAG pages = 2 MIFARE Classic blocks (so both card types store it unchanged):
 *
 * | bytes  | content                                                                   |
 * | 0–1    | magic "MK"                                                                |
 * | 2      | format version, 0x01                                                      |
 * | 3      | 0x00 (reserved; must be zero so that every byte of the record is checked) |
 * | 4–11   | card number: 16 decimal digits as packed BCD, most significant first      |
 * | 12–19  | MAC: HMAC-SHA256(card key, UID bytes ‖ bytes 0–11), first 8 bytes         |
 * | 20–31  | zero padding                                                              |
 *
 * BCD rather than ASCII: the 16 digits fit in 8 bytes, leaving the whole record in two Classic blocks.
 * The header is inside the MAC too, so a record cannot be replayed under another format version.
 */
export const CARD_RECORD_LENGTH = 32;
export const CARD_KEY_LENGTH = 32;

const MAGIC = Buffer.from('MK', 'latin1');
const VERSION = 0x01;
const HEADER_LENGTH = 4;
const NUMBER_OFFSET = HEADER_LENGTH;
/** 16 digits (shared/card.ts CARD_NUMBER_PATTERN), two per byte. */
const NUMBER_LENGTH = 8;
const MAC_OFFSET = NUMBER_OFFSET + NUMBER_LENGTH;
const MAC_LENGTH = 8;
const PADDING_OFFSET = MAC_OFFSET + MAC_LENGTH;


export type CardRecordFailure =
  /** Nothing written yet (factory-fresh memory): the card has not been issued. */
  | 'blank'
  /** Something is written, but not a member record we can parse. */
  | 'bad-format'
  /** Our magic with a format version this code does not know. */
  | 'unsupported-version'
  /** A well-formed record whose MAC does not match this UID under our key: copied or forged. */
  | 'mac-mismatch';

export type CardRecordVerification = { ok: true; cardNumber: string } | { ok: false; reason: CardRecordFailure };

export interface CardRecordContent {
  /** The card's UID as hex (any separators), as read from the card. */
  uid: string;
  /** 16 decimal digits (shared/card.ts isCardNumber). */
  cardNumber: string;
}

/** Parses the configured card key: 64 hex digits (32 bytes). Throws with a message that never echoes it. */
export function parseCardKey(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError(`the card key must be ${CARD_KEY_LENGTH * 2} hex digits`);
  return Buffer.from(hex, 'hex');
}

export function encodeCardRecord({ uid, cardNumber }: CardRecordContent, key: Uint8Array): Buffer {
  assertKey(key);
  if (!isCardNumber(cardNumber)) throw new RangeError('card number must be 16 decimal digits');
  const record = Buffer.alloc(CARD_RECORD_LENGTH);
  MAGIC.copy(record, 0);
  record[2] = VERSION;
  Buffer.from(cardNumber, 'hex').copy(record, NUMBER_OFFSET);
  mac(uidBytes(uid), record, key).copy(record, MAC_OFFSET);
  return record;
}

/** Checks a record read from a card with the given UID. Never throws for any `bytes`. */
export function verifyCardRecord(uid: string, bytes: Uint8Array, key: Uint8Array): CardRecordVerification {
  assertKey(key);
  const record = Buffer.from(bytes);
  if (isBlank(record)) return { ok: false, reason: 'blank' };
  if (record.length !== CARD_RECORD_LENGTH || !record.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, reason: 'bad-format' };
  if (record[2] !== VERSION) return { ok: false, reason: 'unsupported-version' };
  const cardNumber = record.toString('hex', NUMBER_OFFSET, MAC_OFFSET);
  const wellFormed = record[3] === 0 && isCardNumber(cardNumber) && record.subarray(PADDING_OFFSET).every((byte) => byte === 0);
  if (!wellFormed) return { ok: false, reason: 'bad-format' };
  const expected = mac(uidBytes(uid), record, key);
  if (!timingSafeEqual(expected, record.subarray(MAC_OFFSET, PADDING_OFFSET))) return { ok: false, reason: 'mac-mismatch' };
  return { ok: true, cardNumber };
}

function mac(uid: Buffer, record: Buffer, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(uid).update(record.subarray(0, MAC_OFFSET)).digest().subarray(0, MAC_LENGTH);
}

function uidBytes(uid: string): Buffer {
  return Buffer.from(normalizeCardUid(uid), 'hex');
}

function assertKey(key: Uint8Array): void {
  if (key.length !== CARD_KEY_LENGTH) throw new RangeError(`the card key must be ${CARD_KEY_LENGTH} bytes`);
}

/**
 * Factory-fresh user memory: all 00 (NTAG, Classic data blocks), all FF (some pre-formatted stock), or an
 * empty NDEF message TLV (03 00 FE), which NTAG cards often ship with at page 4.
 */
function isBlank(record: Buffer): boolean {
  if (record.length === 0) return true;
  if (record.every((byte) => byte === 0x00) || record.every((byte) => byte === 0xff)) return true;
  return record[0] === 0x03 && record[1] === 0x00 && record[2] === 0xfe && record.subarray(3).every((byte) => byte === 0x00);
}
