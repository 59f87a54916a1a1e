import { maskCardUid } from '../../shared/card.ts';
import { newId } from '../../shared/ids.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database, Queryable } from '../db/database.ts';
import { createMemberAccounts } from './accounts.ts';
import { LedgerError } from './errors.ts';
import { type Actor, type MemberView, toSnapshot } from './types.ts';
import { actorOf, cardUidOf, memberIdOf, phoneOf, textOf } from './validate.ts';

/** Tiers arrive with the rules engine; until then every member is standard. */
const DEFAULT_TIER = 'standard';

interface MemberRow {
  id: string;
  name: string;
  version: number;
  principal: number;
  bonus: number;
  points: number;
  primary_card: string | null;
}

/**
 * A member with balances and version as of this query. `cardUid` is the card the caller used, else the
 * most recently bound one. Inside a transaction pass its `tx` so the view matches what it just wrote.
 */
export async function readMember(q: Queryable, memberId: string, usedCardUid?: string): Promise<MemberView | undefined> {
  const { rows } = await q.query<MemberRow>(
    `SELECT m.id, m.name, m.version,
            max(a.balance) FILTER (WHERE a.kind = 'stored_principal') AS principal,
            max(a.balance) FILTER (WHERE a.kind = 'stored_bonus') AS bonus,
            max(a.balance) FILTER (WHERE a.kind = 'points') AS points,
            (SELECT c.uid FROM cards c WHERE c.member_id = m.id ORDER BY c.bound_at DESC, c.uid LIMIT 1) AS primary_card
       FROM members m JOIN accounts a ON a.member_id = m.id
      WHERE m.id = $1
      GROUP BY m.id`,
    [memberId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const cardUid = usedCardUid ?? row.primary_card ?? undefined;
  return {
    memberId: row.id,
    displayName: row.name,
    tier: DEFAULT_TIER,
    ...(cardUid ? { cardUid } : {}),
    balances: { principalFen: row.principal, bonusFen: row.bonus, points: row.points },
    version: row.version,
    asOf: new Date().toISOString(),
  };
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
  actor: Actor;
}

/** A new member with zero balances in all three accounts; they have no card until bindCard. */
export async function createMember(db: Database, input: CreateMemberInput): Promise<MemberView> {
  const name = textOf(input.name, 'name', 64);
  const phone = input.phone === undefined ? null : phoneOf(input.phone);
  const actor = actorOf(input.actor);
  const memberId = newId();
  return db.transaction(async (tx) => {
    await tx.query(
      'INSERT INTO members (id, name, phone, created_by_type, created_by_id) VALUES ($1, $2, $3, $4, $5)',
      [memberId, name, phone, actor.type, actor.id],
    );
    await createMemberAccounts(tx, memberId);
    return (await readMember(tx, memberId))!;
  });
}

export interface BindCardInput {
  memberId: string;
  cardUid: string;
  actor: Actor;
}

/**
 * Binds a card to a member. Binding a card the member already holds changes nothing (so a retried request
 * is harmless); a card held by someone else is refused. A new card bumps the member's version, because
 * kiosks cache the snapshot by card.
 */
export async function bindCard(db: Database, input: BindCardInput): Promise<{ member: MemberSnapshot; alreadyBound: boolean }> {
  const memberId = memberIdOf(input.memberId);
  const cardUid = cardUidOf(input.cardUid);
  const actor = actorOf(input.actor);
  return db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM members WHERE id = $1 FOR UPDATE', [memberId]);
    if (locked.rows.length === 0) throw memberNotFound(memberId);
    const inserted = await tx.query(
      `INSERT INTO cards (uid, member_id, bound_by_type, bound_by_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (uid) DO NOTHING RETURNING uid`,
      [cardUid, memberId, actor.type, actor.id],
    );
    const alreadyBound = inserted.rows.length === 0;
    if (alreadyBound) {
      const holder = await tx.query<{ member_id: string }>('SELECT member_id FROM cards WHERE uid = $1', [cardUid]);
      if (holder.rows[0]?.member_id !== memberId) {
        throw new LedgerError('CARD_ALREADY_BOUND', `Card ${maskCardUid(cardUid)} already belongs to another member.`);
      }
    } else {
      await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [memberId]);
    }
    return { member: toSnapshot((await readMember(tx, memberId, cardUid))!), alreadyBound };
  });
}

/** The member holding this card, or undefined when the card is not registered. */
export async function findMemberByCard(db: Database, rawCardUid: string): Promise<MemberSnapshot | undefined> {
  const cardUid = cardUidOf(rawCardUid);
  const { rows } = await db.query<{ member_id: string }>('SELECT member_id FROM cards WHERE uid = $1', [cardUid]);
  if (!rows[0]) return undefined;
  const member = await readMember(db, rows[0].member_id, cardUid);
  return member && toSnapshot(member);
}
