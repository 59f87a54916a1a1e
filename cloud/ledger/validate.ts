import { InvalidCardError, maskCardNumber, maskCardUid, normalizeCardNumber, normalizeCardUid } from '../../shared/card.ts';
import { isDeviceId, isUuid } from '../../shared/ids.ts';
import { MAX_AMOUNT_FEN, formatFen } from '../../shared/money.ts';
import { LedgerError } from './errors.ts';
import type { Actor, ActorType } from './types.ts';

/**
 * Input checks for the ledger's public operations. They run before any SQL, so bad input changes nothing,
 * and they hold for every caller (REST, MQTT gateway, jobs), not only for the ones that validate a schema.
 */

/** Points share the fen ceiling: far beyond any real balance, and well inside JavaScript's safe integers. */
export const MAX_POINTS = MAX_AMOUNT_FEN;
const ACTOR_TYPES: readonly ActorType[] = ['member', 'operator', 'device', 'system'];

function invalid(message: string): LedgerError {
  return new LedgerError('INVALID_INPUT', message);
}

/** A malformed member id cannot name any member, so it is reported as not found. */
export function memberIdOf(value: unknown): string {
  if (!isUuid(value)) throw new LedgerError('MEMBER_NOT_FOUND', `No member has the id "${String(value)}".`);
  return value;
}

export function fenOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_AMOUNT_FEN) {
    throw new LedgerError(
      'INVALID_AMOUNT',
      `The amount must be a whole number of fen from 1 to ${MAX_AMOUNT_FEN} (${formatFen(MAX_AMOUNT_FEN)}); got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

export function pointsOf(value: unknown, { allowNegative }: { allowNegative: boolean }): number {
  const ok =
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value !== 0 &&
    Math.abs(value) <= MAX_POINTS &&
    (allowNegative || value > 0);
  if (!ok) {
    const range = allowNegative ? `from -${MAX_POINTS} to ${MAX_POINTS}, not 0` : `from 1 to ${MAX_POINTS}`;
    throw new LedgerError('INVALID_AMOUNT', `Points must be a whole number ${range}; got ${JSON.stringify(value)}.`);
  }
  return value;
}

export function cardUidOf(value: unknown): string {
  if (typeof value !== 'string') throw new LedgerError('INVALID_CARD_UID', 'A card UID is required.');
  try {
    return normalizeCardUid(value);
  } catch (error) {
    if (!(error instanceof InvalidCardError)) throw error;
    // The raw text may be a real card number: show only its tail.
    throw new LedgerError('INVALID_CARD_UID', `Card UID ${maskCardUid(value)} is not 4, 7 or 10 bytes of hex.`);
  }
}

export function cardNumberOf(value: unknown): string {
  if (typeof value !== 'string') throw new LedgerError('INVALID_CARD_NUMBER', 'A card number is required.');
  try {
    return normalizeCardNumber(value);
  } catch (error) {
    if (!(error instanceof InvalidCardError)) throw error;
    throw new LedgerError('INVALID_CARD_NUMBER', `Card number ${maskCardNumber(value)} is not 16 digits.`);
  }
}

export function textOf(value: unknown, field: string, maxLength: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.length < 1 || text.length > maxLength) throw invalid(`${field} is required (1 to ${maxLength} characters).`);
  return text;
}

export function idempotencyKeyOf(value: unknown): string {
  if (typeof value !== 'string' || value.length < 8 || value.length > 100) {
    throw invalid('idempotencyKey must be a string of 8 to 100 characters that is unique per request.');
  }
  return value;
}

export function actorOf(value: Actor): Actor {
  if (!ACTOR_TYPES.includes(value?.type)) throw invalid(`actor.type must be one of ${ACTOR_TYPES.join(', ')}.`);
  return { type: value.type, id: textOf(value.id, 'actor.id', 100) };
}

export function phoneOf(value: unknown): string {
  const phone = typeof value === 'string' ? value.replace(/[\s-]/g, '') : '';
  if (!/^\+?\d{5,20}$/.test(phone)) throw invalid('phone must be 5 to 20 digits, optionally starting with +.');
  return phone;
}

/** A device transaction carries both its device id and its sequence number, or neither. */
export function deviceOf(deviceId: unknown, deviceSeq: unknown): { deviceId?: string; deviceSeq?: number } {
  if (deviceId === undefined && deviceSeq === undefined) return {};
  if (!isDeviceId(deviceId)) throw invalid(`deviceId is not a valid device id: ${JSON.stringify(deviceId)}.`);
  if (typeof deviceSeq !== 'number' || !Number.isSafeInteger(deviceSeq) || deviceSeq < 1) {
    throw invalid(`deviceSeq must be a positive whole number; got ${JSON.stringify(deviceSeq)}.`);
  }
  return { deviceId, deviceSeq };
}
