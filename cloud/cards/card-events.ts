import { CARD_ACTIONS, type CardStatus } from '../../shared/rules/cards.ts';
import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';

/** 'issue': a card created by a replacement or as a supplementary card; 'relink': a supplementary card moved to its primary's successor. */
export const CARD_EVENT_ACTIONS = [...CARD_ACTIONS, 'issue', 'relink'] as const;
export type CardEventAction = (typeof CARD_EVENT_ACTIONS)[number];

export interface CardEvent {
  cardUid: string;
  memberId: string;
  action: CardEventAction;
  fromStatus?: CardStatus;
  toStatus: CardStatus;
  /** The other card involved (see migration 008). */
  relatedCardUid?: string;
  actor: Actor;
  reason: string;
}

export interface CardEventView extends CardEvent {
  at: string;
}

/** Appends to the card's audit trail (card_events is append-only). */
export async function recordCardEvent(tx: Queryable, event: CardEvent): Promise<void> {
  await tx.query(
    `INSERT INTO card_events (card_uid, member_id, action, from_status, to_status, related_uid, actor_type, actor_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      event.cardUid,
      event.memberId,
      event.action,
      event.fromStatus ?? null,
      event.toStatus,
      event.relatedCardUid ?? null,
      event.actor.type,
      event.actor.id,
      event.reason,
    ],
  );
}

interface EventRow {
  card_uid: string;
  member_id: string;
  action: CardEventAction;
  from_status: CardStatus | null;
  to_status: CardStatus;
  related_uid: string | null;
  actor_type: Actor['type'];
  actor_id: string;
  reason: string;
  created_at: Date;
}

/** The card's history, newest first. */
export async function listCardEvents(q: Queryable, cardUid: string): Promise<CardEventView[]> {
  const { rows } = await q.query<EventRow>(
    `SELECT card_uid, member_id, action, from_status, to_status, related_uid, actor_type, actor_id, reason, created_at
       FROM card_events WHERE card_uid = $1 ORDER BY id DESC`,
    [cardUid],
  );
  return rows.map((row) => ({
    cardUid: row.card_uid,
    memberId: row.member_id,
    action: row.action,
    ...(row.from_status === null ? {} : { fromStatus: row.from_status }),
    toStatus: row.to_status,
    ...(row.related_uid === null ? {} : { relatedCardUid: row.related_uid }),
    actor: { type: row.actor_type, id: row.actor_id },
    reason: row.reason,
    at: new Date(row.created_at).toISOString(),
  }));
}
