/**
 * What the ledger asks the cards module (its `cards` port, see cloud/ledger/ports.ts): which card a member view
 * shows, and whether a card presented with a posting may act. Lookups by card refuse a card that is not active.
 */
import { maskCardUid } from '../../shared/card.ts';
import { type CardRefusal, type CardRefusalCode, type CardStatus, cardUseRefusal, dailyLimitRefusal } from '../../shared/rules/cards.ts';
import { localDateOf } from '../../shared/rules/points-expiry.ts';
import type { Queryable } from '../db/database.ts';
import { kernelErrors, refusalOf, type ErrorCode, type HubError } from '../kernel/errors.ts';
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

/** The card a member view names, as SQL: the one used, else an active primary card, newest first. */
function shownCardSql(memberId: string, usedCardUid: string): string {
  return `SELECT uid AS shown_card_uid, card_number AS shown_card_number FROM cards WHERE member_id = ${memberId}
           ORDER BY uid IS NOT DISTINCT FROM ${usedCardUid} DESC, status = 'active' DESC, type <> 'supplementary' DESC, bound_at DESC, uid
           LIMIT 1`;
}

interface PresentedCardState {
  status: CardStatus;
  daily_limit_fen: number | null;
}

/**
 * Movements presenting cards (run by the ledger inside its transaction, under the member locks), each checked as
 * admitPresentedCard says; the cards are read in one statement, then checked in order.
 */
async function admitPresentedCards(tx: Queryable, presented: readonly PresentedCard[]): Promise<Array<Error | undefined>> {
  if (presented.length === 0) return [];
  const { rows } = await tx.query<PresentedCardState & { n: string }>(
    `SELECT p.n, c.status, c.daily_limit_fen
       FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS p(uid, member_id, n)
       JOIN cards c ON c.uid = p.uid AND c.member_id = p.member_id`,
    [presented.map((p) => p.cardUid), presented.map((p) => p.memberId)],
  );
  const cardAt = new Map(rows.map((row) => [Number(row.n) - 1, row]));
  const refusals: Array<Error | undefined> = [];
  for (const [index, card] of presented.entries()) {
    try {
      await admitPresentedCard(tx, card, cardAt.get(index));
      refusals.push(undefined);
    } catch (error) {
      if (!refusalOf(error)) throw error;
      refusals.push(error as Error);
    }
  }
  return refusals;
}

/**
 * A movement presenting a card (`card`: its row, undefined when the member has no such card):
 * - the card must belong to the member (CARD_NOT_FOUND);
 * - a movement that takes anything from the member (stored value, points) needs an active card — a lost,
 *   frozen, cancelled or replaced card is refused. A pure credit is let through whatever the card's state:
 *   it only adds to the member's balances, and a kiosk that took banknotes offline from a card it had not
 *   yet heard was blocked must still be able to credit that cash;
 * - a card with a daily limit (supplementary) may spend at most that much stored value per local day of the
 *   store; what it spends is recorded in card_spending. The member lock serialises the check and the write.
 */
async function admitPresentedCard(tx: Queryable, presented: PresentedCard, card: PresentedCardState | undefined): Promise<void> {
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
export const cardsPort: LedgerPorts['cards'] = { shownCardSql, admit: admitPresentedCards };
