/** The parts of nfc-pcsc 0.8.1 (untyped) that the kiosk uses. Source: node_modules/nfc-pcsc/src. */
declare module 'nfc-pcsc' {
  import { EventEmitter } from 'node:events';

  export const TAG_ISO_14443_3: 'TAG_ISO_14443_3';
  export const TAG_ISO_14443_4: 'TAG_ISO_14443_4';

  export interface Card {
    atr?: Buffer;
    standard?: typeof TAG_ISO_14443_3 | typeof TAG_ISO_14443_4;
    /** Lower-case hex, set for ISO 14443-3 tags by the automatic GET DATA (FF CA 00 00 00). */
    uid?: string;
  }

  export class Reader extends EventEmitter<{ card: [Card]; 'card.off': [Card]; error: [Error]; end: [] }> {
    readonly name: string;
    /** When true (the default) the reader reads the UID (or SELECTs reader.aid) before emitting `card`. */
    autoProcessing: boolean;
    /** The card on the reader; null from the moment it is removed. */
    readonly card: Card | null;
    /** The PC/SC connection to the card; null once the (asynchronous) disconnect has finished. */
    readonly connection: object | null;
    static selectStandardByAtr(atr: Buffer): typeof TAG_ISO_14443_3 | typeof TAG_ISO_14443_4;
    read(blockNumber: number, length: number, blockSize?: number, packetSize?: number): Promise<Buffer>;
    close(): void;
  }

  export class NFC extends EventEmitter<{ reader: [Reader]; error: [Error] }> {
    constructor(logger?: unknown);
    close(): void;
  }
}
