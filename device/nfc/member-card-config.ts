import type { KeyTypeName } from './apdu.ts';

/** The chain's secrets and identifiers the kiosk needs to read member records (from configuration). */
export interface MemberCardConfig {
  /** 32-byte HMAC key the records are MACed with (shared/card-data.ts parseCardKey). */
  cardKey: Uint8Array;
  /** MIFARE Classic sector key for the record sector (6 bytes) and which key slot of the sector it is. */
  classicKey: Buffer;
  classicKeyType: KeyTypeName;
  /** Application identifier ISO 14443-4 member cards answer SELECT for, with the record as response data. */
  aid: Buffer;
}
