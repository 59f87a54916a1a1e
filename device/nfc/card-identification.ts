import { verifyCardRecord } from '../../shared/card-data.ts';
import type { CardIdentification, CardRefusal, CardRefusalCode } from './card-reader.ts';

/** What the member is told, in both languages of the kiosk, for each kind of refused card. */
const NOT_VERIFIED = { zh: '此卡无法验证，请到柜台咨询', en: 'This card could not be verified — please ask at the counter' };
const REFUSAL_MESSAGES: Record<CardRefusalCode, CardRefusal['message']> = {
  'not-verified': NOT_VERIFIED,
  'card-key-rejected': NOT_VERIFIED,
  'card-unreadable': { zh: '此卡无法读取，请到柜台咨询', en: 'This card could not be read — please ask at the counter' },
};

export function refusal(code: CardRefusalCode): CardIdentification {
  return { verification: 'refused', refusal: { code, message: REFUSAL_MESSAGES[code] } };
}

/**
 * Judges the record read from a card. A blank card was never issued a record: it identifies by UID only
 * and the hub decides (an unknown UID is "card not issued"; cards enrolled by UID before records existed
 * keep working). Anything written that does not verify is refused — copied, forged or damaged alike.
 */
export function identifyByRecord(uid: string, record: Buffer, cardKey: Uint8Array): CardIdentification {
  const result = verifyCardRecord(uid, record, cardKey);
  if (result.ok) return { verification: 'verified', cardNumber: result.cardNumber };
  if (result.reason === 'blank') return { verification: 'uid-only' };
  return refusal('not-verified');
}
