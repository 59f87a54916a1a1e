import type { EventEmitter } from 'node:events';
import type { PeripheralHealth } from '../health/peripheral-health.ts';

/**
 * - verified: the card carries a member record whose MAC matches this UID; `cardNumber` identifies it.
 * - uid-only: nothing written on the card (never issued a record) — only the UID identifies it.
 * - refused: the card must not be used: `refusal` says why and what to tell the member.
 */
export type CardVerification = 'verified' | 'uid-only' | 'refused';

/**
 * - not-verified: a record is there but does not verify (copied to another card, forged or damaged).
 * - card-key-rejected: a MIFARE Classic card that does not accept the chain's sector key.
 * - card-unreadable: the card answered our reads with an error status.
 */
export type CardRefusalCode = 'not-verified' | 'card-key-rejected' | 'card-unreadable';

export interface CardRefusal {
  code: CardRefusalCode;
  message: { zh: string; en: string };
}

export interface CardIdentification {
  verification: CardVerification;
  /** 16 digits, only when verified. Mask it (maskCardNumber) in logs. */
  cardNumber?: string;
  refusal?: CardRefusal;
}

/**
 * A card was placed on a reader and read. `uid` is normalised upper-case hex (shared/card.ts). The
 * identification is absent from readers that read no card data (the in-process emulator): treat that
 * as 'uid-only'.
 */
export interface CardTap extends Partial<CardIdentification> {
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
  /** Readers that track their health emit it on every change (see health()). */
  health: [PeripheralHealth];
}

/**
 * What the kiosk needs from an NFC reader, whatever drives it (PC/SC hardware or the in-process
 * emulator). Events stop after stop(); errors are events, never exceptions out of the reader.
 */
export interface CardReader extends EventEmitter<CardReaderEvents> {
  start(): Promise<void>;
  stop(): Promise<void>;
}
