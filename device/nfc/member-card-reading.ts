import { CARD_RECORD_LENGTH } from '../../shared/card-data.ts';
import { Apdu, responseData } from './apdu.ts';
import type { MemberCardConfig } from './member-card-config.ts';
import {
  CLASSIC_BLOCK_SIZE, CLASSIC_RECORD_BLOCKS, CLASSIC_RECORD_FIRST_BLOCK, NTAG_PAGE_SIZE, NTAG_RECORD_START_PAGE,
} from './member-card-layout.ts';

/** Sends one APDU to the card on the reader and resolves with the response (data + SW1 SW2). */
export type Transmit = (apdu: Buffer, maxResponseLength: number) => Promise<Buffer>;

/** NTAG/Ultralight answer reads in 16-byte chunks (4 pages); more per READ BINARY is reader-specific. */
const NTAG_READ_LENGTH = 16;
/** The reader's volatile key slot the sector key is loaded into; the key is gone when the card leaves. */
const KEY_SLOT = 0;
/** PC/SC part 3 card names (ATR bytes 13–14) of the MIFARE Classic family, which need authentication. */
const CLASSIC_CARD_NAMES = new Set([0x0001, 0x0002]);

/** True for a MIFARE Classic 1K/4K storage-card ATR (PC/SC part 3 §3.1.3.2.3). */
export function isMifareClassic(atr: Buffer | undefined): boolean {
  return atr !== undefined && atr.length >= 15 && CLASSIC_CARD_NAMES.has(atr.readUInt16BE(13));
}

/**
 * Reads the member record's bytes from an ISO 14443-3 storage card. Throws CardStatusError when the card
 * (or the reader for it) refuses a command, or the transport's error when the card is gone.
 */
export async function readStorageRecord(atr: Buffer | undefined, transmit: Transmit, config: MemberCardConfig): Promise<Buffer> {
  return isMifareClassic(atr) ? readClassicRecord(transmit, config) : readNtagRecord(transmit);
}

async function readNtagRecord(transmit: Transmit): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < CARD_RECORD_LENGTH; offset += NTAG_READ_LENGTH) {
    const page = NTAG_RECORD_START_PAGE + offset / NTAG_PAGE_SIZE;
    chunks.push(await command('READ BINARY', transmit, Apdu.readBinary(page, NTAG_READ_LENGTH), NTAG_READ_LENGTH + 2));
  }
  return Buffer.concat(chunks);
}

async function readClassicRecord(transmit: Transmit, config: MemberCardConfig): Promise<Buffer> {
  await command('LOAD KEY', transmit, Apdu.loadKey(KEY_SLOT, config.classicKey), 2);
  // One authentication covers every block of the sector, and the record never leaves its sector.
  await command('AUTHENTICATE', transmit, Apdu.authenticate(CLASSIC_RECORD_FIRST_BLOCK, config.classicKeyType, KEY_SLOT), 2);
  const blocks: Buffer[] = [];
  for (let i = 0; i < CLASSIC_RECORD_BLOCKS; i++) {
    blocks.push(await command('READ BINARY', transmit, Apdu.readBinary(CLASSIC_RECORD_FIRST_BLOCK + i, CLASSIC_BLOCK_SIZE), CLASSIC_BLOCK_SIZE + 2));
  }
  return Buffer.concat(blocks);
}

/** The card's UID via GET DATA, which ISO 14443-4 cards answer too (the reader supplies it). */
export function readUid(transmit: Transmit): Promise<Buffer> {
  return command('GET DATA', transmit, Apdu.getUid(), 12);
}

async function command(name: string, transmit: Transmit, apdu: Buffer, maxResponseLength: number): Promise<Buffer> {
  return responseData(name, await transmit(apdu, maxResponseLength));
}
