import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import type { CardStatus, CardType } from '../../shared/rules/cards.ts';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import type { HubError } from '../kernel/errors.ts';
import { cardErrors } from './errors.ts';

/** A card as the hub shows it to operators. */
export interface CardView {
  cardUid: string;
  cardNumber?: string;
  memberId: string;
  type: CardType;
  status: CardStatus;
  /** A supplementary card's primary card. */
  primaryCardUid?: string;
  holderName?: string;
  /** A supplementary card's cap on stored value spent per local day, in fen. */
  dailyLimitFen?: number;
  /** The card that replaced this one (status 'replaced'). */
  replacedByCardUid?: string;
  boundAt: string;
  statusChangedAt: string;
}

interface CardRow {
  uid: string;
  card_number: string | null;
  member_id: string;
  type: CardType;
  status: CardStatus;
  primary_uid: string | null;
  holder_name: string | null;
  daily_limit_fen: number | null;
  replaced_by_uid: string | null;
  bound_at: Date;
  status_changed_at: Date;
}

const COLUMNS = `uid, card_number, member_id, type, status, primary_uid, holder_name, daily_limit_fen, replaced_by_uid,
                 bound_at, status_changed_at`;

function toView(row: CardRow): CardView {
  return {
    cardUid: row.uid,
    ...(row.card_number === null ? {} : { cardNumber: row.card_number }),
    memberId: row.member_id,
    type: row.type,
    status: row.status,
    ...(row.primary_uid === null ? {} : { primaryCardUid: row.primary_uid }),
    ...(row.holder_name === null ? {} : { holderName: row.holder_name }),
    ...(row.daily_limit_fen === null ? {} : { dailyLimitFen: row.daily_limit_fen }),
    ...(row.replaced_by_uid === null ? {} : { replacedByCardUid: row.replaced_by_uid }),
    boundAt: new Date(row.bound_at).toISOString(),
    statusChangedAt: new Date(row.status_changed_at).toISOString(),
  };
}

export function cardNotFound(cardUid: string): HubError {
  const masked = maskCardUid(cardUid);
  return cardErrors.CARD_NOT_FOUND({ zh: `卡片 ${masked} 未登记`, en: `Card ${masked} is not registered` });
}

/**
 * The card, or CARD_NOT_FOUND. With `lock` (inside a transaction) the row is locked until commit, so
 * the state a change was checked against is the state it changes.
 */
export async function readCard(q: Queryable, cardUid: string, options: { lock?: boolean } = {}): Promise<CardView> {
  const { rows } = await q.query<CardRow>(`SELECT ${COLUMNS} FROM cards WHERE uid = $1${options.lock ? ' FOR UPDATE' : ''}`, [cardUid]);
  if (!rows[0]) throw cardNotFound(cardUid);
  return toView(rows[0]);
}

/** Active supplementary cards hanging off this card. */
export async function activeSupplementaryUids(q: Queryable, primaryUid: string): Promise<string[]> {
  const { rows } = await q.query<{ uid: string }>(
    `SELECT uid FROM cards WHERE primary_uid = $1 AND status NOT IN ('cancelled', 'replaced') ORDER BY uid`,
    [primaryUid],
  );
  return rows.map((row) => row.uid);
}

export interface NewCard {
  cardUid: string;
  cardNumber?: string;
  memberId: string;
  type: CardType;
  primaryCardUid?: string;
  holderName?: string;
  dailyLimitFen?: number;
  actor: Actor;
}

/** Registers a brand-new card; a UID or card number already on any card is refused (CARD_ALREADY_BOUND). */
export async function insertCard(tx: Queryable, card: NewCard): Promise<CardView> {
  const { rows } = await tx.query<CardRow>(
    `INSERT INTO cards (uid, card_number, member_id, type, primary_uid, holder_name, daily_limit_fen, bound_by_type, bound_by_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [
      card.cardUid,
      card.cardNumber ?? null,
      card.memberId,
      card.type,
      card.primaryCardUid ?? null,
      card.holderName ?? null,
      card.dailyLimitFen ?? null,
      card.actor.type,
      card.actor.id,
    ],
  );
  if (rows[0]) return toView(rows[0]);
  const taken = await tx.query('SELECT 1 FROM cards WHERE uid = $1', [card.cardUid]);
  if (taken.rows.length > 0) {
    const uid = maskCardUid(card.cardUid);
    throw cardErrors.CARD_ALREADY_BOUND({ zh: `卡片 ${uid} 已登记过，请换一张新卡`, en: `Card ${uid} is already registered; a new card is needed` });
  }
  const number = maskCardNumber(card.cardNumber!);
  throw cardErrors.CARD_ALREADY_BOUND({ zh: `卡号 ${number} 已在另一张卡上`, en: `Card number ${number} is already on another card` });
}

/** Moves a card to a new status (the caller has checked the transition under the row lock). */
export async function setCardStatus(tx: Queryable, cardUid: string, status: CardStatus, replacedByUid?: string): Promise<CardView> {
  const { rows } = await tx.query<CardRow>(
    `UPDATE cards SET status = $2, replaced_by_uid = $3, status_changed_at = now() WHERE uid = $1 RETURNING ${COLUMNS}`,
    [cardUid, status, replacedByUid ?? null],
  );
  return toView(rows[0]!);
}

/** Points the supplementary cards of `fromUid` at `toUid` (a replaced primary's successor). */
export async function relinkSupplementaries(tx: Queryable, fromUid: string, toUid: string): Promise<Array<{ cardUid: string; status: CardStatus }>> {
  const { rows } = await tx.query<{ uid: string; status: CardStatus }>(
    'UPDATE cards SET primary_uid = $2 WHERE primary_uid = $1 RETURNING uid, status',
    [fromUid, toUid],
  );
  return rows.map((row) => ({ cardUid: row.uid, status: row.status })).sort((a, b) => (a.cardUid < b.cardUid ? -1 : 1));
}
