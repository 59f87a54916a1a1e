import { normalizeCardUid } from '../../shared/card.ts';
import { KeyType } from '../nfc/apdu.ts';
import { CLASSIC_BLOCK_SIZE, CLASSIC_BLOCKS_PER_SECTOR } from '../nfc/member-card-layout.ts';

/** What a contactless card does, independent of how it reaches the reader: an ATR and an APDU handler. */
export interface CardModel {
  readonly atr: Buffer;
  /** Answers one command APDU with a response APDU (data + SW1 SW2). Never throws. */
  respond(apdu: Buffer): Buffer;
  /** The card left the field or was reset: it forgets any session state (e.g. an authenticated sector). */
  reset?(): void;
}

export const SW = {
  ok: Buffer.from([0x90, 0x00]),
  wrongLength: Buffer.from([0x67, 0x00]),
  functionNotSupported: Buffer.from([0x6a, 0x81]),
  /** PC/SC part 3: "addressed block or byte does not exist"; ISO 7816-4 SELECT: "application not found". */
  notFound: Buffer.from([0x6a, 0x82]),
  /** PC/SC part 3 LOAD KEYS / AUTHENTICATE: "operation failed". */
  operationFailed: Buffer.from([0x63, 0x00]),
  /** "Security status not satisfied": a MIFARE Classic block read without authenticating its sector. */
  securityNotSatisfied: Buffer.from([0x69, 0x82]),
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

  /** Writes whole pages from `startPage`, as an issuing station's WRITE commands would. */
  writePages(startPage: number, data: Buffer): void {
    const start = startPage * PAGE_SIZE;
    if (data.length % PAGE_SIZE !== 0 || start + data.length > this.memory.length) {
      throw new RangeError(`cannot write ${data.length} bytes from page ${startPage}`);
    }
    data.copy(this.memory, start);
  }
}

const CLASSIC_1K_SECTORS = 16;
/** Factory key of MIFARE Classic cards (key A and key B). */
export const CLASSIC_TRANSPORT_KEY = Buffer.from('FFFFFFFFFFFF', 'hex');
/** Default access bits + GPB of a sector trailer: keys A/B read and write the data blocks. */
const TRAILER_ACCESS = Buffer.from('FF078069', 'hex');

export interface SectorKeys {
  a: Buffer;
  b: Buffer;
}

export interface MifareClassicOptions {
  /** 4-byte UID as hex. */
  uid: string;
  /** Keys of the sectors that do not use the transport key, by sector number. */
  sectorKeys?: Readonly<Record<number, SectorKeys>>;
}

/**
 * A MIFARE Classic 1K card as a PC/SC reader presents it: GET DATA, LOAD KEYS into the reader's two
 * volatile key slots, GENERAL AUTHENTICATE of a sector with a loaded key, and READ BINARY of 16-byte
 * blocks — only within the sector last authenticated, as on the real chip. A failed authentication
 * drops the authenticated state (the chip halts), like real cards do.
 */
export class MifareClassicCard implements CardModel {
  readonly atr = storageCardAtr(CardName.mifareClassic1k);
  readonly uid: Buffer;
  private readonly memory = Buffer.alloc(CLASSIC_1K_SECTORS * CLASSIC_BLOCKS_PER_SECTOR * CLASSIC_BLOCK_SIZE);
  private readonly keys: SectorKeys[];
  /** The reader's key slots (LOAD KEYS P2 = 00 or 01); the reader forgets them when the card leaves. */
  private keySlots: Array<Buffer | undefined> = [undefined, undefined];
  private authenticatedSector: number | null = null;

  constructor(options: MifareClassicOptions) {
    this.uid = Buffer.from(normalizeCardUid(options.uid), 'hex');
    if (this.uid.length !== 4) throw new RangeError('a MIFARE Classic 1K UID is 4 bytes');
    this.keys = Array.from({ length: CLASSIC_1K_SECTORS }, (_, sector) =>
      options.sectorKeys?.[sector] ?? { a: CLASSIC_TRANSPORT_KEY, b: CLASSIC_TRANSPORT_KEY });
    // Block 0, the manufacturer block: UID and its BCC (XOR of the UID bytes).
    this.uid.copy(this.memory, 0);
    this.memory[4] = this.uid.reduce((acc, byte) => acc ^ byte, 0);
  }

  reset(): void {
    this.keySlots = [undefined, undefined];
    this.authenticatedSector = null;
  }

  respond(apdu: Buffer): Buffer {
    if (apdu.length < 4) return SW.wrongLength;
    const [cla, ins, p1, p2] = apdu;
    if (cla !== 0xff) return SW.insNotSupported;
    if (ins === 0xca) return p1 === 0x00 ? Buffer.concat([this.uid, SW.ok]) : SW.functionNotSupported;
    if (ins === 0x82) return this.loadKey(p2 ?? 0, apdu.subarray(5, 5 + (apdu[4] ?? 0)));
    if (ins === 0x86) return this.authenticate(apdu.subarray(5));
    if (ins === 0xb0) return this.readBlock(((p1 ?? 0) << 8) | (p2 ?? 0), apdu[4]);
    return SW.insNotSupported;
  }

  /** Writes whole data blocks from `startBlock`, as an issuing station would after authenticating. */
  writeBlocks(startBlock: number, data: Buffer): void {
    const blocks = data.length / CLASSIC_BLOCK_SIZE;
    for (let block = startBlock; block < startBlock + blocks; block++) {
      if (!Number.isInteger(blocks) || block === 0 || isTrailer(block) || block >= CLASSIC_1K_SECTORS * CLASSIC_BLOCKS_PER_SECTOR) {
        throw new RangeError(`cannot write ${data.length} bytes from block ${startBlock}: not whole data blocks`);
      }
    }
    data.copy(this.memory, startBlock * CLASSIC_BLOCK_SIZE);
  }

  private loadKey(slot: number, key: Buffer): Buffer {
    if (slot > 1 || key.length !== 6) return SW.operationFailed;
    this.keySlots[slot] = Buffer.from(key);
    return SW.ok;
  }

  /** Data: 01 00 block keyType slot (PC/SC part 3 GENERAL AUTHENTICATE, version 1). */
  private authenticate(data: Buffer): Buffer {
    const [version, , block, keyType, slot] = data;
    const key = this.keySlots[slot ?? 0xff];
    this.authenticatedSector = null;
    if (data.length !== 5 || version !== 0x01 || block === undefined || key === undefined) return SW.operationFailed;
    const sectorKeys = this.keys[sectorOf(block)];
    const expected = keyType === KeyType.A ? sectorKeys?.a : keyType === KeyType.B ? sectorKeys?.b : undefined;
    if (expected === undefined || !expected.equals(key)) return SW.operationFailed;
    this.authenticatedSector = sectorOf(block);
    return SW.ok;
  }

  private readBlock(block: number, le: number | undefined): Buffer {
    if (le !== CLASSIC_BLOCK_SIZE) return SW.wrongLength;
    if (block >= CLASSIC_1K_SECTORS * CLASSIC_BLOCKS_PER_SECTOR) return SW.notFound;
    if (this.authenticatedSector !== sectorOf(block)) return SW.securityNotSatisfied;
    if (isTrailer(block)) {
      // Key A never reads back; key B does under the default access bits.
      const keyB = this.keys[sectorOf(block)]?.b ?? CLASSIC_TRANSPORT_KEY;
      return Buffer.concat([Buffer.alloc(6), TRAILER_ACCESS, keyB, SW.ok]);
    }
    const start = block * CLASSIC_BLOCK_SIZE;
    return Buffer.concat([this.memory.subarray(start, start + CLASSIC_BLOCK_SIZE), SW.ok]);
  }
}

function sectorOf(block: number): number {
  return Math.floor(block / CLASSIC_BLOCKS_PER_SECTOR);
}

function isTrailer(block: number): boolean {
  return block % CLASSIC_BLOCKS_PER_SECTOR === CLASSIC_BLOCKS_PER_SECTOR - 1;
}

export interface IsoDepCardOptions {
  /** The application this card answers SELECT for; without one it is a phone or bank card to us. */
  aid?: Buffer;
  /** The UID the reader reports for it (GET DATA); phones present a random one per tap. */
  uid?: string;
  /** The SELECT response data of the application (the member record). */
  selectResponse?: Buffer;
}

/**
 * An ISO 14443-4 card: answers SELECT of its own AID with its response data and 90 00, any other AID
 * with 6A 82 (not found), and GET DATA with its UID — on real hardware the reader answers that one
 * from the anticollision data; through vpcd the card has to.
 */
export class IsoDepCard implements CardModel {
  readonly atr = ISO_14443_4_ATR;
  readonly uid: Buffer;
  private readonly aid: Buffer | undefined;
  selectResponse: Buffer;

  constructor(options: IsoDepCardOptions = {}) {
    this.aid = options.aid;
    this.uid = Buffer.from(normalizeCardUid(options.uid ?? '08A1B2C3'), 'hex');
    this.selectResponse = options.selectResponse ?? Buffer.alloc(0);
  }

  respond(apdu: Buffer): Buffer {
    if (apdu[0] === 0x00 && apdu[1] === 0xa4) {
      const aid = apdu.subarray(5, 5 + (apdu[4] ?? 0));
      return this.aid?.equals(aid) ? Buffer.concat([this.selectResponse, SW.ok]) : SW.notFound;
    }
    if (apdu[0] === 0xff && apdu[1] === 0xca && apdu[2] === 0x00) return Buffer.concat([this.uid, SW.ok]);
    return SW.insNotSupported;
  }
}

/** A card that answers the APDUs `matches` picks with status word `sw` instead: damaged or odd cards. */
export function withStatusWord(card: CardModel, matches: (apdu: Buffer) => boolean, sw: Buffer): CardModel {
  return {
    atr: card.atr,
    respond: (apdu) => (matches(apdu) ? Buffer.from(sw) : card.respond(apdu)),
    reset: () => card.reset?.(),
  };
}
