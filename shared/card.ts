/**
 * Card identifiers. An NFC card is identified by its UID as upper-case hex (4, 7 or 10 bytes,
 * ISO 14443-3 single/double/triple size). The UID identifies a card; it does not authenticate one.
 * A member card also carries a 16-digit card number (the NFC record's number, the magnetic stripe's PAN),
 * which is how a magstripe swipe finds the member.
 */
export const CARD_UID_PATTERN = '^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$';
const cardUidRegex = new RegExp(CARD_UID_PATTERN);
export const CARD_NUMBER_PATTERN = '^[0-9]{16}$';
const cardNumberRegex = new RegExp(CARD_NUMBER_PATTERN);

export class InvalidCardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCardError';
  }
}

export function isCardUid(value: unknown): value is string {
  return typeof value === 'string' && cardUidRegex.test(value);
}

/** Accepts "04:a2:2b:1c", "04 A2 2B 1C" or "04a22b1c" and returns "04A22B1C". */
export function normalizeCardUid(raw: string): string {
  const uid = raw.replace(/[\s:-]/g, '').toUpperCase();
  if (!isCardUid(uid)) throw new InvalidCardError(`card UID must be 4, 7 or 10 bytes of hex, got "${raw}"`);
  return uid;
}

/** For logs and screens: keep only the last four hex digits ("****2B1C"). */
export function maskCardUid(uid: string): string {
  return uid.length <= 4 ? '****' : `****${uid.slice(-4)}`;
}

export function isCardNumber(value: unknown): value is string {
  return typeof value === 'string' && cardNumberRegex.test(value);
}

/** Accepts "6200 1234 5678 9012" or "6200-1234-5678-9012" (as printed or typed) and returns "6200123456789012". */
export function normalizeCardNumber(raw: string): string {
  const cardNumber = raw.replace(/[\s-]/g, '');
  if (!cardNumberRegex.test(cardNumber)) {
    // Only the tail: a near-miss is still most of a real card number.
    throw new InvalidCardError(
      `card number must be 16 decimal digits (spaces and dashes are ignored), got ${cardNumber.length} characters (${maskCardNumber(cardNumber)})`,
    );
  }
  return cardNumber;
}

/** For logs and screens: keep only the last four digits ("****3456"), like maskCardUid. */
export function maskCardNumber(cardNumber: string): string {
  return cardNumber.length <= 4 ? '****' : `****${cardNumber.slice(-4)}`;
}

/** For logs and screens: "138****5678". */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7) return '****';
  return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
}
