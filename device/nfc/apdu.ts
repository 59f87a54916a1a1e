/**
 * The PC/SC part 3 pseudo-APDUs a contactless reader's firmware turns into card commands, and the ISO
 * 7816-4 SELECT. Built in one place so the reader and the card emulator agree byte for byte.
 */
export const KeyType = { A: 0x60, B: 0x61 } as const;
export type KeyTypeName = keyof typeof KeyType;

export const Apdu = {
  /** GET DATA: the card's UID. */
  getUid: (): Buffer => Buffer.from([0xff, 0xca, 0x00, 0x00, 0x00]),
  /** READ BINARY: `length` bytes from a page (NTAG) or block (Classic). */
  readBinary: (block: number, length: number): Buffer => Buffer.from([0xff, 0xb0, (block >> 8) & 0xff, block & 0xff, length]),
  /** LOAD KEYS into the reader's volatile key slot `slot` (6-byte MIFARE key). */
  loadKey: (slot: number, key: Buffer): Buffer => Buffer.from([0xff, 0x82, 0x00, slot, key.length, ...key]),
  /** GENERAL AUTHENTICATE (version 01) of `block` with the key in `slot`. */
  authenticate: (block: number, keyType: KeyTypeName, slot: number): Buffer =>
    Buffer.from([0xff, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, KeyType[keyType], slot]),
  /** SELECT by application identifier, expecting response data. */
  select: (aid: Buffer): Buffer => Buffer.from([0x00, 0xa4, 0x04, 0x00, aid.length, ...aid, 0x00]),
} as const;

/** The card (or the reader on its behalf) answered with a status word other than 90 00. */
export class CardStatusError extends Error {
  constructor(readonly command: string, readonly sw: number) {
    super(`${command} failed with status ${sw.toString(16).toUpperCase().padStart(4, '0')}`);
    this.name = 'CardStatusError';
  }
}

/**
 * No status word at all: the card did not answer. Readers (vpcd among them) report a card that left the
 * field mid-command this way rather than as a transmit error.
 */
export class NoCardResponseError extends Error {
  constructor(readonly command: string) {
    super(`${command}: no response from the card`);
    this.name = 'NoCardResponseError';
  }
}

/** Strips SW1 SW2 from a response; anything but 90 00 throws. */
export function responseData(command: string, response: Buffer): Buffer {
  if (response.length < 2) throw new NoCardResponseError(command);
  const sw = response.readUInt16BE(response.length - 2);
  if (sw !== 0x9000) throw new CardStatusError(command, sw);
  return response.subarray(0, -2);
}
