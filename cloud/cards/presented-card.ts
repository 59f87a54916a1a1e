/**
 * The cards module's part of a kiosk's one-statement member read (cloud/sync/card-lookups.ts): the SQL that finds
 * the card a kiosk presents (by NFC UID, or by the card number of a magnetic-stripe swipe) and the reading of its
 * columns, which refuses a card that is not active exactly as memberByCard does.
 */
import type { CardStatus } from '../../shared/rules/cards.ts';
import { cardNumberOf, cardUidOf } from '../ledger/index.ts';
import { assertCardUsable } from './card-guard.ts';

export type PresentedCardKey = { cardUid: string } | { cardNumber: string };

/**
 * The card as one row (none when it is not registered): columns card_uid, card_number, card_member_id,
 * card_status. `bind` adds the normalised UID or number to the composer's parameters and returns its placeholder;
 * a malformed one is refused here (INVALID_CARD_UID, INVALID_CARD_NUMBER) before anything is sent.
 */
export function presentedCardSql(key: PresentedCardKey, bind: (value: string) => string): string {
  const [column, value] = 'cardUid' in key ? ['uid', cardUidOf(key.cardUid)] : ['card_number', cardNumberOf(key.cardNumber)];
  return `SELECT uid AS card_uid, card_number, member_id AS card_member_id, status AS card_status FROM cards WHERE ${column} = ${bind(value)}`;
}

export interface PresentedCardRow {
  card_uid: string;
  card_number: string | null;
  card_member_id: string;
  card_status: CardStatus;
}

/** The card of a presentedCardSql row; a card that is not active is refused (CARD_LOST, CARD_FROZEN, CARD_INVALID_STATE). */
export function usablePresentedCard(row: PresentedCardRow): { cardUid: string; cardNumber?: string; memberId: string } {
  assertCardUsable(row.card_status);
  return { cardUid: row.card_uid, ...(row.card_number === null ? {} : { cardNumber: row.card_number }), memberId: row.card_member_id };
}
