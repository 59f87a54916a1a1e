import type { EventEmitter } from 'node:events';

/** A member card was placed on a reader. `uid` is normalised upper-case hex (shared/card.ts). */
export interface CardTap {
  uid: string;
  readerName: string;
}

/** The card left the reader; `uid` is null when it was never read (e.g. a phone). */
export interface CardRemoval {
  uid: string | null;
  readerName: string;
}

export interface ReaderInfo {
  readerName: string;
}

export class CardReaderError extends Error {
  constructor(
    message: string,
    readonly readerName: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CardReaderError';
  }
}

export interface CardReaderEvents {
  card: [CardTap];
  'card-removed': [CardRemoval];
  'reader-connected': [ReaderInfo];
  'reader-disconnected': [ReaderInfo];
  error: [CardReaderError];
}

/**
 * What the kiosk needs from an NFC reader, whatever drives it (PC/SC hardware or the in-process
 * emulator). Events stop after stop(); errors are events, never exceptions out of the reader.
 */
export interface CardReader extends EventEmitter<CardReaderEvents> {
  start(): Promise<void>;
  stop(): Promise<void>;
}
