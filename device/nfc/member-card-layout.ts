import { CARD_RECORD_LENGTH } from '../../shared/card-data.ts';

/**
 * Where the member record (shared/card-data.ts) lives on each kind of card. The issuing station writes
 * it here, the kiosk reads it from here.
 *
 * - NTAG / Ultralight: from page 4, the first user page (pages 0–3 hold UID, lock bytes and the
 *   capability container); 32 bytes = pages 4–11, which even a 16-page Ultralight has.
 * - MIFARE Classic: sector 1, blocks 4–5 (sector 0 holds the manufacturer block and, on many cards,
 *   the MAD), read after authenticating the sector with the chain's sector key.
 */
export const NTAG_RECORD_START_PAGE = 4;
export const NTAG_PAGE_SIZE = 4;
export const CLASSIC_RECORD_SECTOR = 1;
export const CLASSIC_BLOCK_SIZE = 16;
export const CLASSIC_BLOCKS_PER_SECTOR = 4;
export const CLASSIC_RECORD_FIRST_BLOCK = CLASSIC_RECORD_SECTOR * CLASSIC_BLOCKS_PER_SECTOR;
export const CLASSIC_RECORD_BLOCKS = CARD_RECORD_LENGTH / CLASSIC_BLOCK_SIZE;
