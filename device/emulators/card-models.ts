import { normalizeCardUid } from '../../shared/card.ts';

/** What a contactless card does, independent of how it reaches the reader: an ATR and an APDU handler. */
export interface CardModel {
  readonly atr: Buffer;
  /** Answers one command APDU with a response APDU (data + SW1 SW2). Never throws. */
  respond(apdu: Buffer): Buffer;
}

export const SW = {
  ok: Buffer.from([0x90, 0x00]),
  wrongLength: Buffer.from([0x67, 0x00]),
  functionNotSupported: Buffer.from([0x6a, 0x81]),
  /** PC/SC part 3: "addressed block or byte does not exist". */
  notFound: Buffer.from([0x6a, 0x82]),
  insNotSupported: Buffer.from([0x6d, 0x00]),
} as const;

/** PC/SC part 3 card names (the NN NN bytes of a storage-card ATR). */
export const CardName = { mifareClassic1k: 0x0001, mifareClassic4k: 0x0002, ultralight: 0x0003 } as const;

/** TCK: XOR of every byte from T0 up to the last historical byte (ISO 7816-3 §8.2.5). */
function withTck(atrWithoutTck: number[]): Buffer {
  const tck = atrWithoutTck.slice(1).reduce((acc, byte) => acc ^ byte, 0);
  return Buffer.from([...atrWithoutTck, tck]);
}

/**
 * The ATR a PC/SC reader synthesises for an ISO 14443-3 storage card (PC/SC part 3, §3.1.3.2.3):
 * RID A0 00 00 03 06, standard 03 (ISO 14443A-3), then the card name. Byte 5 is 0x4F, which is how
 * nfc-pcsc recognises a storage card and reads its UID instead of sending SELECT.
 */
export function storageCardAtr(cardName: number): Buffer {
  return withTck([0x3b, 0x8f, 0x80, 0x01, 0x80, 0x4f, 0x0c, 0xa0, 0x00, 0x00, 0x03, 0x06, 0x03,
    (cardName >> 8) & 0xff, cardName & 0xff, 0x00, 0x00, 0x00, 0x00]);
}

/** ATR of an ISO 14443-4 card with no historical bytes, as readers report phones and bank cards. */
export const ISO_14443_4_ATR = withTck([0x3b, 0x80, 0x80, 0x01]);

const PAGE_SIZE = 4;
const DEFAULT_PAGE_COUNT = 16;

export interface StorageCardOptions {
  /** UID as hex (4, 7 or 10 bytes, any separators). */
  uid: string;
  /** Page memory, 4 bytes per page; defaults to 16 zeroed pages. */
  pages?: readonly Buffer[];
}

/**
 * An NTAG / MIFARE Ultralight card as a PC/SC reader presents it: GET DATA (FF CA) for the UID and
 * READ BINARY (FF B0) for page memory, the pseudo-APDUs a reader's firmware translates to the card.
 */
export class StorageCard implements CardModel {
  readonly atr = storageCardAtr(CardName.ultralight);
  readonly uid: Buffer;
  private readonly memory: Buffer;

  constructor(options: StorageCardOptions) {
    this.uid = Buffer.from(normalizeCardUid(options.uid), 'hex');
    const pages = options.pages ?? Array.from({ length: DEFAULT_PAGE_COUNT }, () => Buffer.alloc(PAGE_SIZE));
    for (const [index, page] of pages.entries()) {
      if (page.length !== PAGE_SIZE) throw new RangeError(`page ${index} must be ${PAGE_SIZE} bytes, got ${page.length}`);
    }
    this.memory = Buffer.concat(pages);
  }

  respond(apdu: Buffer): Buffer {
    if (apdu.length < 4) return SW.wrongLength;
    const [cla, ins, p1, p2] = apdu;
    if (cla !== 0xff) return SW.insNotSupported;
    if (ins === 0xca) return p1 === 0x00 ? Buffer.concat([this.uid, SW.ok]) : SW.functionNotSupported;
    if (ins === 0xb0) return this.readBinary(((p1 ?? 0) << 8) | (p2 ?? 0), apdu[4]);
    return SW.insNotSupported;
  }

  private readBinary(page: number, le: number | undefined): Buffer {
    if (le === undefined || le === 0) return SW.wrongLength;
    const start = page * PAGE_SIZE;
    // Reading past the end is refused rather than wrapped: real readers answer an error (some then wedge).
    if (start + le > this.memory.length) return SW.notFound;
    return Buffer.concat([this.memory.subarray(start, start + le), SW.ok]);
  }
}

/** A phone or bank card: ISO 14443-4, knows no application of ours, so every command fails. */
export class IsoDepCard implements CardModel {
  readonly atr = ISO_14443_4_ATR;

  respond(apdu: Buffer): Buffer {
    const isSelect = apdu[0] === 0x00 && apdu[1] === 0xa4;
    return isSelect ? SW.notFound : SW.insNotSupported;
  }
}
