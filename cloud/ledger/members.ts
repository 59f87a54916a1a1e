import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import { newId } from '../../shared/ids.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { CardStatus, CardType } from '../../shared/rules/cards.ts';
import { assertCardUsable } from '../cards/card-guard.ts';
import type { Database, Queryable } from '../db/database.ts';
import { createMemberAccounts } from './accounts.ts';
import { LedgerError } from './errors.ts';
import { type Actor, type MemberView, toSnapshot } from './types.ts';
import { actorOf, cardNumberOf, cardUidOf, memberIdOf, phoneOf, textOf } from './validate.ts';

/** The tier of a member the tier service has not stored one for (cloud/program/tiers.ts: member_tiers). */
const DEFAULT_TIER = 'standard';

interface MemberRow {
  id: string;
  name: string;
  version: number;
  principal: number;
  bonus: number;
  points: number;
  card_uid: string | null;
  card_number: string | null;
  tier: string | null;
  home_store_id: string | null;
}

/**
 * A member with balances and version as of this query. The card (`cardUid`, and `cardNumber` when that
 * card has one) is the one the caller used, else the most recently bound one. Inside a transaction pass
 * its `tx` so the view matches what it just wrote.
 */
export async function readMember(q: Queryable, memberId: string, usedCardUid?: string): Promise<MemberView | undefined> {
  const { rows } = await q.query<MemberRow>(
    `SELECT m.id, m.name, m.version, m.home_store_id,
            max(a.balance) FILTER (WHERE a.kind = 'stored_principal') AS principal,
            max(a.balance) FILTER (WHERE a.kind = 'stored_bonus') AS bonus,
            max(a.balance) FILTER (WHERE a.kind = 'points') AS points,
            c.uid AS card_uid, c.card_number,
            (SELECT tier FROM member_tiers WHERE member_id = m.id) AS tier
       FROM members m JOIN accounts a ON a.member_id = m.id
       LEFT JOIN LATERAL (
         SELECT uid, card_number FROM cards
          WHERE member_id = m.id
          ORDER BY uid IS NOT DISTINCT FROM $2::text DESC, status = 'active' DESC, type <> 'supplementary' DESC, bound_at DESC, uid LIMIT 1
       ) c ON true
      WHERE m.id = $1
      GROUP BY m.id, c.uid, c.card_number`,
    [memberId, usedCardUid ?? null],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    memberId: row.id,
    displayName: row.name,
    tier: row.tier ?? DEFAULT_TIER,
    ...(row.card_uid ? { cardUid: row.card_uid } : {}),
    ...(row.card_number ? { cardNumber: row.card_number } : {}),
    ...(row.home_store_id ? { homeStoreId: row.home_store_id } : {}),
    balances: { principalFen: row.principal, bonusFen: row.bonus, points: row.points },
    version: row.version,
    asOf: new Date().toISOString(),
  };
}

/** The member's home store (null: none, e.g. registered at HQ); MEMBER_NOT_FOUND for an unknown or malformed id. */
export async function homeStoreOf(q: Queryable, memberId: unknown): Promise<string | null> {
  const id = memberIdOf(memberId);
  const { rows } = await q.query<{ home_store_id: string | null }>('SELECT home_store_id FROM members WHERE id = $1', [id]);
  if (!rows[0]) throw memberNotFound(id);
  return rows[0].home_store_id;
}

export function memberNotFound(memberId: string): LedgerError {
  return new LedgerError('MEMBER_NOT_FOUND', `No member has the id ${memberId}.`);
}

export async function getMember(db: Database, memberId: unknown): Promise<MemberView> {
  const id = memberIdOf(memberId);
  const member = await readMember(db, id);
  if (!member) throw memberNotFound(id);
  return member;
}

export interface CreateMemberInput {
  name: string;
  phone?: string;
  /** The store the member belongs to (decides which operators reach them); absent only for HQ-registered or legacy members. */
  homeStoreId?: string;
  actor: Actor;
}

/** A new member with zero balances in all three accounts; they have no card until bindCard. */
export async function createMember(db: Database, input: CreateMemberInput): Promise<MemberView> {
  const name = textOf(input.name, 'name', 64);
  const phone = input.phone === undefined ? null : phoneOf(input.phone);
  const homeStoreId = input.homeStoreId === undefined ? null : textOf(input.homeStoreId, 'homeStoreId', 40);
  const actor = actorOf(input.actor);
  const memberId = newId();
  return db.transaction(async (tx) => {
    if (homeStoreId !== null && (await tx.query('SELECT 1 FROM stores WHERE id = $1', [homeStoreId])).rows.length === 0) {
      throw new LedgerError('STORE_NOT_FOUND', `No store has the id "${homeStoreId}".`);
    }
    await tx.query(
      'INSERT INTO members (id, name, phone, home_store_id, created_by_type, created_by_id) VALUES ($1, $2, $3, $4, $5, $6)',
      [memberId, name, phone, homeStoreId, actor.type, actor.id],
    );
    await createMemberAccounts(tx, memberId);
    return (await readMember(tx, memberId))!;
  });
}

export interface BindCardInput {
  memberId: string;
  cardUid: string;
  /** The 16-digit number the card carries, if it has one; spaces and dashes are ignored. */
  cardNumber?: string;
  /** personal (default), group or vip; supplementary cards are issued against a primary card (cloud/cards). */
  type?: Exclude<CardType, 'supplementary'>;
  actor: Actor;
}

const BINDABLE_TYPES: readonly string[] = ['personal', 'group', 'vip'] satisfies Array<BindCardInput['type']>;

/**
 * Binds a card (and its card number, if given) to a member. Binding a card the member already holds
 * changes nothing (so a retried request is harmless); a card, or a card number, held by someone else is
 * refused, and so is a number different from the one the card was bound with — a card's number identifies
 * it as much as its UID does — or a type other than the card's (changing a card's type is not a rebind).
 * A new card bumps the member's version, because kiosks cache the snapshot by card.
 */
export async function bindCard(db: Database, input: BindCardInput): Promise<{ member: MemberSnapshot; alreadyBound: boolean }> {
  const memberId = memberIdOf(input.memberId);
  const cardUid = cardUidOf(input.cardUid);
  const cardNumber = input.cardNumber === undefined ? undefined : cardNumberOf(input.cardNumber);
  const type = input.type ?? 'personal';
  if (!BINDABLE_TYPES.includes(type)) throw new LedgerError('INVALID_INPUT', `type must be one of ${BINDABLE_TYPES.join(', ')}.`);
  const actor = actorOf(input.actor);
  return db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM members WHERE id = $1 FOR UPDATE', [memberId]);
    if (locked.rows.length === 0) throw memberNotFound(memberId);
    // No conflict target: a taken UID and a taken number (unique too) both insert nothing, and the checks
    // below say which. A concurrent bind of either waits here for the other to commit, then sees its row.
    const inserted = await tx.query(
      `INSERT INTO cards (uid, card_number, member_id, type, bound_by_type, bound_by_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING uid`,
      [cardUid, cardNumber ?? null, memberId, type, actor.type, actor.id],
    );
    const alreadyBound = inserted.rows.length === 0;
    if (alreadyBound) await assertSameBinding(tx, { memberId, cardUid, cardNumber, type: input.type });
    else await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [memberId]);
    return { member: toSnapshot((await readMember(tx, memberId, cardUid))!), alreadyBound };
  });
}

/** A bind that inserted nothing is harmless only when it repeats the existing binding exactly. */
async function assertSameBinding(
  tx: Queryable,
  wanted: { memberId: string; cardUid: string; cardNumber: string | undefined; type: CardType | undefined },
): Promise<void> {
  const { rows } = await tx.query<{ member_id: string; card_number: string | null; type: CardType }>(
    'SELECT member_id, card_number, type FROM cards WHERE uid = $1',
    [wanted.cardUid],
  );
  const card = rows[0];
  if (!card) {
    // The UID is free, so the number is what collided.
    throw new LedgerError('CARD_ALREADY_BOUND', `Card number ${maskCardNumber(wanted.cardNumber!)} is already on another card.`);
  }
  if (card.member_id !== wanted.memberId) {
    throw new LedgerError('CARD_ALREADY_BOUND', `Card ${maskCardUid(wanted.cardUid)} already belongs to another member.`);
  }
  if (wanted.cardNumber !== undefined && wanted.cardNumber !== card.card_number) {
    const bound = card.card_number === null ? 'without a card number' : `with card number ${maskCardNumber(card.card_number)}`;
    throw new LedgerError(
      'CARD_ALREADY_BOUND',
      `Card ${maskCardUid(wanted.cardUid)} is already bound to this member ${bound}, not ${maskCardNumber(wanted.cardNumber)}.`,
    );
  }
  // Without a type the request repeats the binding whatever the card's type (like a rebind without a number).
  if (wanted.type !== undefined && wanted.type !== card.type) {
    throw new LedgerError('CARD_ALREADY_BOUND', `Card ${maskCardUid(wanted.cardUid)} is already bound to this member as a ${card.type} card, not ${wanted.type}.`);
  }
}

/**
 * The member holding this card, or undefined when the card is not registered. A card that is not active is
 * refused with CARD_LOST, CARD_FROZEN or CARD_INVALID_STATE and a bilingual message a kiosk can show.
 */
export async function findMemberByCard(db: Database, rawCardUid: string): Promise<MemberSnapshot | undefined> {
  const cardUid = cardUidOf(rawCardUid);
  const { rows } = await db.query<{ member_id: string; status: CardStatus }>('SELECT member_id, status FROM cards WHERE uid = $1', [cardUid]);
  if (!rows[0]) return undefined;
  assertCardUsable(rows[0].status);
  const member = await readMember(db, rows[0].member_id, cardUid);
  return member && toSnapshot(member);
}

/**
 * The member holding the card with this number (the snapshot names that card), or undefined when no card has
 * it. A card that is not active is refused like in findMemberByCard.
 */
export async function findMemberByCardNumber(db: Database, rawCardNumber: string): Promise<MemberSnapshot | undefined> {
  const cardNumber = cardNumberOf(rawCardNumber);
  const { rows } = await db.query<{ uid: string; member_id: string; status: CardStatus }>(
    'SELECT uid, member_id, status FROM cards WHERE card_number = $1',
    [cardNumber],
  );
  if (!rows[0]) return undefined;
  assertCardUsable(rows[0].status);
  const member = await readMember(db, rows[0].member_id, rows[0].uid);
  return member && toSnapshot(member);
}
