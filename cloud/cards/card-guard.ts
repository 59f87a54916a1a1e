/**
 * What the ledger asks the cards module (its `cards` port, see cloud/ledger/ports.ts): which card a member view
 * shows, and whether a card presented with a posting may act. Lookups by card refuse a card that is not active.
 */
import { maskCardUid } from '../../shared/card.ts';
import { type CardRefusal, type CardRefusalCode, type CardStatus, cardUseRefusal, dailyLimitRefusal } from '../../shared/rules/cards.ts';
import { localDateOf } from '../../shared/rules/points-expiry.ts';
import type { Queryable } from '../db/database.ts';
import { kernelErrors, type ErrorCode, type HubError } from '../kernel/errors.ts';
import type { LedgerPorts, PresentedCard } from '../ledger/index.ts';
import { DEFAULT_TIME_ZONE, getStore } from '../org/index.ts';
import { cardErrors } from './errors.ts';

/** The error of each refusal the card rules give (shared/rules/cards.ts): the codes stay what kiosks branch on. */
const REFUSALS: Readonly<Record<CardRefusalCode, ErrorCode>> = {
  CARD_LOST: cardErrors.CARD_LOST,
  CARD_FROZEN: cardErrors.CARD_FROZEN,
  CARD_INVALID_STATE: cardErrors.CARD_INVALID_STATE,
  CARD_DAILY_LIMIT_EXCEEDED: cardErrors.CARD_DAILY_LIMIT_EXCEEDED,
  FORBIDDEN: kernelErrors.FORBIDDEN,
};

/** A card refusal: the code a kiosk can branch on, the bilingual text it can show. */
export function cardRefusalError(refusal: CardRefusal): HubError {
  return REFUSALS[refusal.code]({ zh: refusal.zh, en: refusal.en });
}

/** Refuses a card that is not active: CARD_LOST, CARD_FROZEN or CARD_INVALID_STATE (cancelled, replaced). */
export function assertCardUsable(status: CardStatus): void {
  const refusal = cardUseRefusal(status);
  if (refusal) throw cardRefusalError(refusal);
}

/** The local calendar day (YYYY-MM-DD) and year of an instant at a store, or in the chain's zone. */
export async function localCalendarOf(q: Queryable, storeId: string | undefined, at: Date): Promise<{ day: string; year: string }> {
  const store = storeId === undefined ? undefined : await getStore(q, storeId);
  const { year, month, day } = localDateOf(at, store?.timeZone ?? DEFAULT_TIME_ZONE);
  const pad = (n: number) => String(n).padStart(2, '0');
  return { day: `${year}-${pad(month)}-${pad(day)}`, year: String(year) };
}

/** The card a member view names: the one used, else an active primary card, newest first. */
async function shownCard(q: Queryable, memberId: string, usedCardUid?: string): Promise<{ cardUid: string; cardNumber?: string } | undefined> {
  const { rows } = await q.query<{ uid: string; card_number: string | null }>(
    `SELECT uid, card_number FROM cards WHERE member_id = $1
      ORDER BY uid IS NOT DISTINCT FROM $2::text DESC, status = 'active' DESC, type <> 'supplementary' DESC, bound_at DESC, uid LIMIT 1`,
    [memberId, usedCardUid ?? null],
  );
  const card = rows[0];
  return card && { cardUid: card.uid, ...(card.card_number === null ? {} : { cardNumber: card.card_number }) };
}

/**
 * A movement presenting a card (run by the ledger inside its transaction, under the member lock):
 * - the card must belong to the member (CARD_NOT_FOUND);
 * - a movement that takes anything from the member (stored value, points) needs an active card — a lost,
 *   frozen, cancelled or replaced card is refused. A pure credit is let through whatever the card's state:
 *   it only adds to the member's balances, and a kiosk that took banknotes offline from a card it had not
 *   yet heard was blocked must still be able to credit that cash;
 * - a card with a daily limit (supplementary) may spend at most that much stored value per local day of the
 *   store; what it spends is recorded in card_spending. The member lock serialises the check and the write.
 */
async function admitPresentedCard(tx: Queryable, presented: PresentedCard): Promise<void> {
  const { rows } = await tx.query<{ status: CardStatus; daily_limit_fen: number | null }>(
    'SELECT status, daily_limit_fen FROM cards WHERE uid = $1 AND member_id = $2',
    [presented.cardUid, presented.memberId],
  );
  const card = rows[0];
  if (!card) {
    const masked = maskCardUid(presented.cardUid);
    throw cardErrors.CARD_NOT_FOUND({ zh: `卡片 ${masked} 不属于该会员`, en: `Card ${masked} is not registered to this member.` });
  }
  const memberLegs = presented.legs.filter((leg) => typeof leg.account === 'string');
  if (!memberLegs.some((leg) => leg.amount < 0)) return;
  assertCardUsable(card.status);
  const spentFen = -memberLegs
    .filter((leg) => (leg.account === 'stored_principal' || leg.account === 'stored_bonus') && leg.amount < 0)
    .reduce((sum, leg) => sum + leg.amount, 0);
  if (card.daily_limit_fen === null || spentFen === 0) return;
  const { day } = await localCalendarOf(tx, presented.storeId, new Date());
  const spent = await tx.query<{ total: number }>(
    'SELECT coalesce(sum(amount_fen), 0)::bigint AS total FROM card_spending WHERE card_uid = $1 AND local_day = $2',
    [presented.cardUid, day],
  );
  const refusal = dailyLimitRefusal(card.daily_limit_fen, spent.rows[0]!.total, spentFen);
  if (refusal) throw cardRefusalError(refusal);
  await tx.query('INSERT INTO card_spending (tx_id, card_uid, local_day, amount_fen) VALUES ($1, $2, $3, $4)', [
    presented.txId,
    presented.cardUid,
    day,
    spentFen,
  ]);
}

/** The ledger's `cards` port. */
export const cardsPort: LedgerPorts['cards'] = { shownCard, admit: admitPresentedCard };
