/**
 * The parts of nfc-pcsc 0.8.1 that reading member records needs, merged into device/types/nfc-pcsc.d.ts.
 * Source: node_modules/nfc-pcsc/src/Reader.js.
 */
declare module 'nfc-pcsc' {
  interface Card {
    /** ISO 14443-4 tags: the SELECT response data (without SW1 SW2) for reader.aid. */
    data?: Buffer;
  }

  interface Reader {
    /** SELECTed on ISO 14443-4 tags before `card` is emitted; unset = such tags raise "AID was not set". */
    aid: Buffer | string | null;
    /** SCardConnect to the card on the reader; nfc-pcsc calls it itself on insertion. */
    connect(mode?: string): Promise<object>;
    /** SCardTransmit; rejects when the card is gone (the cause is pcsclite's error). */
    transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
  }
}
