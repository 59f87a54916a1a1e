import { newId } from '../../shared/ids.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, textOf } from '../kernel/input.ts';
import { getStore, storeNotFound } from '../org/index.ts';
import { createMemberAccounts } from './accounts.ts';
import type { LockedBalances } from './legs.ts';
import { lockedBalances } from './posting.ts';
import { memberBalancesSql, type MemberBalancesRow } from './kiosk-member-read.ts';
import type { LedgerPorts, ShownCardQuery } from './ports.ts';
import type { MemberView } from './types.ts';
import { memberIdOf, memberNotFound, phoneOf } from './validate.ts';

/**
 * A member with balances and version as of this query, with the card and tier its neighbours report (ports).
 * The card is the one the caller used, else the member's main card. Inside a transaction pass its `tx` so the
 * view matches what it just wrote.
 */
export async function readMember(q: Queryable, ports: LedgerPorts, memberId: string, usedCardUid?: string): Promise<MemberView | undefined> {
  return (await readMembers(q, ports, [{ memberId, ...(usedCardUid === undefined ? {} : { usedCardUid }) }]))[0];
}

/** Many members as readMember reads one (undefined for an unknown one), in order, in one statement for all. */
export async function readMembers(q: Queryable, ports: LedgerPorts, wanted: readonly ShownCardQuery[]): Promise<Array<MemberView | undefined>> {
  if (wanted.length === 0) return [];
  const { rows } = await q.query<MemberBalancesRow & { n: string; shown_card_uid: string | null; shown_card_number: string | null }>(
    `SELECT w.n, member.*, card.*, tier.* FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS w(member_id, used_uid, n)
       JOIN LATERAL (${memberBalancesSql('w.member_id')}) AS member ON true
       LEFT JOIN LATERAL (${ports.cards.shownCardSql('w.member_id', 'w.used_uid')}) AS card ON true
       LEFT JOIN LATERAL (${ports.tiers.tierSql('w.member_id')}) AS tier ON true`,
    [wanted.map((w) => w.memberId), wanted.map((w) => w.usedCardUid ?? null)],
  );
  const found = new Map(rows.map((row) => [Number(row.n) - 1, row]));
  const asOf = new Date().toISOString();
  return wanted.map(({ memberId }, index): MemberView | undefined => {
    const row = found.get(index);
    if (!row) return undefined;
    return {
      memberId,
      displayName: row.member_name!,
      tier: ports.tiers.tierOf(row),
      ...(row.shown_card_uid === null ? {} : { cardUid: row.shown_card_uid, ...(row.shown_card_number === null ? {} : { cardNumber: row.shown_card_number }) }),
      ...(row.member_home_store_id ? { homeStoreId: row.member_home_store_id } : {}),
      balances: { principalFen: row.principal_fen!, bonusFen: row.bonus_fen!, points: row.points! },
      version: row.member_version!,
      asOf,
    };
  });
}

/** What other modules may know of a member beyond balances. */
export interface MemberProfile {
  memberId: string;
  name: string;
  phone?: string;
  /** Their home store (null: registered at headquarters, or before stores existed). */
  homeStoreId: string | null;
  /** When they joined. */
  createdAt: Date;
  /** MM-DD, for birthday offers; absent when unknown. */
  birthMonthDay?: string;
}

/** The member's profile; MEMBER_NOT_FOUND for an unknown or malformed id. */
export async function profileOf(q: Queryable, memberId: unknown): Promise<MemberProfile> {
  const id = memberIdOf(memberId);
  const { rows } = await q.query<{ name: string; phone: string | null; home_store_id: string | null; created_at: Date | string; birth_month_day: string | null }>(
    'SELECT name, phone, home_store_id, created_at, birth_month_day FROM members WHERE id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) throw memberNotFound(id);
  return {
    memberId: id,
    name: row.name,
    ...(row.phone === null ? {} : { phone: row.phone }),
    homeStoreId: row.home_store_id,
    createdAt: new Date(row.created_at),
    ...(row.birth_month_day === null ? {} : { birthMonthDay: row.birth_month_day }),
  };
}

/**
 * Takes the member lock inside `tx` — the lock every posting takes — so the balances can no longer change before
 * commit. For a change that posts nothing but must be ordered with the member's postings (a card change, a sale
 * paid in cash, a tier review). MEMBER_NOT_FOUND when there is no such member.
 */
export async function lockMember(tx: Queryable, memberId: unknown): Promise<LockedBalances> {
  const id = memberIdOf(memberId);
  const { rows } = await tx.query('SELECT id FROM members WHERE id = $1 FOR UPDATE', [id]);
  if (rows.length === 0) throw memberNotFound(id);
  return lockedBalances(tx, id);
}

/**
 * Something kiosks show of the member changed without a posting (a card, the tier): a new version, so every
 * kiosk holding the member gets a fresh snapshot (postings bump it themselves).
 */
export async function memberChanged(tx: Queryable, memberId: string): Promise<void> {
  await tx.query('UPDATE members SET version = version + 1, updated_at = now() WHERE id = $1', [memberId]);
}

export async function getMember(db: Database, ports: LedgerPorts, memberId: unknown): Promise<MemberView> {
  const id = memberIdOf(memberId);
  const member = await readMember(db, ports, id);
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

/** A new member with zero balances in all three accounts; they have no card until one is bound (cards module). */
export async function createMember(db: Database, ports: LedgerPorts, input: CreateMemberInput): Promise<MemberView> {
  const name = textOf(input.name, 'name', 64);
  const phone = input.phone === undefined ? null : phoneOf(input.phone);
  const homeStoreId = input.homeStoreId === undefined ? null : textOf(input.homeStoreId, 'homeStoreId', 40);
  const actor = actorOf(input.actor);
  if (homeStoreId !== null && !(await getStore(db, homeStoreId))) throw storeNotFound(homeStoreId);
  const memberId = newId();
  return db.transaction(async (tx) => {
    await tx.query(
      'INSERT INTO members (id, name, phone, home_store_id, created_by_type, created_by_id) VALUES ($1, $2, $3, $4, $5, $6)',
      [memberId, name, phone, homeStoreId, actor.type, actor.id],
    );
    await createMemberAccounts(tx, memberId);
    return (await readMember(tx, ports, memberId))!;
  });
}

/** Sets or clears the member's birthday (MM-DD), for birthday offers; a kiosk's copy does not show it. */
export async function setBirthday(q: Queryable, memberId: unknown, birthMonthDay: string | null): Promise<void> {
  const id = memberIdOf(memberId);
  const { rows } = await q.query('UPDATE members SET birth_month_day = $2, updated_at = now() WHERE id = $1 RETURNING id', [id, birthMonthDay]);
  if (rows.length === 0) throw memberNotFound(id);
}

/**
 * Members whose version grew in the last `withinSeconds` (an SQL expression; cheap on the updated_at index), as a
 * fragment with columns member_id and version, for a statement that joins them to what else it needs (the member
 * fan-out joins which kiosks hold them), so thousands of changed members never travel to the hub and back.
 */
export function recentlyChangedMembersSql(withinSeconds: string): string {
  return `SELECT id AS member_id, version FROM members WHERE updated_at > now() - make_interval(secs => ${withinSeconds})`;
}

/**
 * A page of members after `after` (by id), with their birthday: those whose home store is one of `storeIds`
 * (undefined: every member). For campaigns that walk the membership.
 */
export async function membersPage(
  q: Queryable,
  { after, storeIds, limit }: { after: string; storeIds?: readonly string[]; limit: number },
): Promise<Array<{ memberId: string; birthMonthDay: string | null }>> {
  const { rows } = await q.query<{ id: string; birth_month_day: string | null }>(
    `SELECT id, birth_month_day FROM members
      WHERE id > $1 AND ($2::text[] IS NULL OR home_store_id = ANY($2::text[]))
      ORDER BY id LIMIT $3`,
    [after, storeIds === undefined ? null : [...storeIds], limit],
  );
  return rows.map((row) => ({ memberId: row.id, birthMonthDay: row.birth_month_day }));
}
