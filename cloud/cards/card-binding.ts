import { maskCardNumber, maskCardUid } from '../../shared/card.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { CardStatus, CardType } from '../../shared/rules/cards.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, invalid } from '../kernel/input.ts';
import { cardNumberOf, cardUidOf, lockMember, memberChanged, memberIdOf, toSnapshot, type Ledger } from '../ledger/index.ts';
import { assertCardUsable } from './card-guard.ts';
import { cardErrors } from './errors.ts';

export interface BindCardInput {
  memberId: string;
  cardUid: string;
  /** The 16-digit number the card carries, if it has one; spaces and dashes are ignored. */
  cardNumber?: string;
  /** personal (default), group or vip; supplementary cards are issued against a primary card (card-service.ts). */
  type?: Exclude<CardType, 'supplementary'>;
  actor: Actor;
}

const BINDABLE_TYPES: readonly string[] = ['personal', 'group', 'vip'] satisfies Array<BindCardInput['type']>;

const alreadyBound = (zh: string, en: string) => cardErrors.CARD_ALREADY_BOUND({ zh, en });

/**
 * Binds a card (and its card number, if given) to a member. Binding a card the member already holds
 * changes nothing (so a retried request is harmless); a card, or a card number, held by someone else is
 * refused, and so is a number different from the one the card was bound with — a card's number identifies
 * it as much as its UID does — or a type other than the card's (changing a card's type is not a rebind).
 * The member's version grows, because kiosks cache the snapshot by card.
 */
export async function bindCard(db: Database, ledger: Ledger, input: BindCardInput): Promise<{ member: MemberSnapshot; alreadyBound: boolean }> {
  const memberId = memberIdOf(input.memberId);
  const cardUid = cardUidOf(input.cardUid);
  const cardNumber = input.cardNumber === undefined ? undefined : cardNumberOf(input.cardNumber);
  const type = input.type ?? 'personal';
  if (!BINDABLE_TYPES.includes(type)) throw invalid(`type 须为 ${BINDABLE_TYPES.join('、')} 之一`, `type must be one of ${BINDABLE_TYPES.join(', ')}`);
  const actor = actorOf(input.actor);
  return db.transaction(async (tx) => {
    await lockMember(tx, memberId);
    // No conflict target: a taken UID and a taken number (unique too) both insert nothing, and the checks
    // below say which. A concurrent bind of either waits here for the other to commit, then sees its row.
    const inserted = await tx.query(
      `INSERT INTO cards (uid, card_number, member_id, type, bound_by_type, bound_by_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING uid`,
      [cardUid, cardNumber ?? null, memberId, type, actor.type, actor.id],
    );
    const bound = inserted.rows.length === 0;
    if (bound) await assertSameBinding(tx, { memberId, cardUid, cardNumber, type: input.type });
    else await memberChanged(tx, memberId);
    return { member: toSnapshot((await ledger.readMember(tx, memberId, cardUid))!), alreadyBound: bound };
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
  const uid = maskCardUid(wanted.cardUid);
  if (!card) {
    // The UID is free, so the number is what collided.
    const number = maskCardNumber(wanted.cardNumber!);
    throw alreadyBound(`卡号 ${number} 已在另一张卡上`, `Card number ${number} is already on another card`);
  }
  if (card.member_id !== wanted.memberId) throw alreadyBound(`卡片 ${uid} 已属于另一位会员`, `Card ${uid} already belongs to another member`);
  if (wanted.cardNumber !== undefined && wanted.cardNumber !== card.card_number) {
    const number = maskCardNumber(wanted.cardNumber);
    const was = card.card_number === null ? { zh: '没有卡号', en: 'without a card number' } : { zh: `卡号为 ${maskCardNumber(card.card_number)}`, en: `with card number ${maskCardNumber(card.card_number)}` };
    throw alreadyBound(`卡片 ${uid} 已绑定给该会员，${was.zh}，而不是 ${number}`, `Card ${uid} is already bound to this member ${was.en}, not ${number}`);
  }
  // Without a type the request repeats the binding whatever the card's type (like a rebind without a number).
  if (wanted.type !== undefined && wanted.type !== card.type) {
    throw alreadyBound(`卡片 ${uid} 已作为 ${card.type} 卡绑定给该会员，而不是 ${wanted.type}`, `Card ${uid} is already bound to this member as a ${card.type} card, not ${wanted.type}`);
  }
}

/**
 * The member holding this card, as a kiosk sees them, or undefined when the card is not registered. A card that
 * is not active is refused with CARD_LOST, CARD_FROZEN or CARD_INVALID_STATE and a bilingual message a kiosk can show.
 */
export async function memberByCard(q: Queryable, ledger: Ledger, rawCardUid: string): Promise<MemberSnapshot | undefined> {
  const cardUid = cardUidOf(rawCardUid);
  const { rows } = await q.query<{ member_id: string; status: CardStatus }>('SELECT member_id, status FROM cards WHERE uid = $1', [cardUid]);
  if (!rows[0]) return undefined;
  assertCardUsable(rows[0].status);
  const member = await ledger.readMember(q, rows[0].member_id, cardUid);
  return member && toSnapshot(member);
}

/** The member holding the card with this number (a magnetic-stripe swipe), refused like memberByCard. */
export async function memberByCardNumber(q: Queryable, ledger: Ledger, rawCardNumber: string): Promise<MemberSnapshot | undefined> {
  const cardNumber = cardNumberOf(rawCardNumber);
  const { rows } = await q.query<{ uid: string; member_id: string; status: CardStatus }>('SELECT uid, member_id, status FROM cards WHERE card_number = $1', [cardNumber]);
  if (!rows[0]) return undefined;
  assertCardUsable(rows[0].status);
  const member = await ledger.readMember(q, rows[0].member_id, rows[0].uid);
  return member && toSnapshot(member);
}
