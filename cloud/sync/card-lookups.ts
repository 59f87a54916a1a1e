import type { CardLookupRequest, MemberSnapshot } from '../../shared/contract/payloads.ts';
import { cardErrors, presentedCardSql, usablePresentedCard, type PresentedCardKey, type PresentedCardRow } from '../cards/index.ts';
import type { Queryable } from '../db/database.ts';
import type { DeviceRequestHandler } from '../kernel/module.ts';
import { memberBalancesSql, memberSnapshotOf, type MemberBalancesRow } from '../ledger/index.ts';
import { memberTierSql, noticeFactsSql, shownTierOf, type KioskNotices, type MemberTierRow, type NoticeFactsRow, type NoticeRead } from '../program/index.ts';
import type { MemberFanout } from './member-fanout.ts';

/** The member holding a card, as a kiosk that presents it sees them; undefined for a card nobody registered. */
export type KioskMemberRead = (card: PresentedCardKey) => Promise<MemberSnapshot | undefined>;

type KioskMemberRow = PresentedCardRow & MemberBalancesRow & MemberTierRow & Partial<NoticeFactsRow>;

/**
 * What a kiosk sees of a member (card lookup, member fan-out) in ONE database statement, so a lookup costs one
 * round trip however many modules own its parts: the card (cards), the member and balances (ledger), the tier and,
 * with notices on, the facts behind them (program, which brings the ledger's lots and spend and the organisation's
 * time zone). Each owner writes the SQL over its own tables as a fragment and reads its own columns back; this
 * module, which decides what a kiosk sees, only joins the fragments on the card's member id and binds the values.
 * (One SQL function in a migration would do the same in one round trip, but would put every module's tables in one
 * body that no module owns.) A refused card (lost, frozen, cancelled, replaced) throws its bilingual refusal.
 */
export function kioskMemberReader(db: Queryable, notices: KioskNotices): KioskMemberRead {
  async function read(card: PresentedCardKey, noticeRead: NoticeRead | undefined): Promise<KioskMemberRow | undefined> {
    const values: string[] = [];
    const bind = (value: string) => `$${values.push(value)}`;
    const memberId = 'kiosk_card.card_member_id';
    const facts = noticeRead
      ? `LEFT JOIN LATERAL (${noticeFactsSql(noticeRead, { memberId, homeStoreId: 'kiosk_member.member_home_store_id' }, bind)}) AS notice_facts ON true`
      : '';
    const sql = `SELECT * FROM (${presentedCardSql(card, bind)}) AS kiosk_card
                   LEFT JOIN LATERAL (${memberBalancesSql(memberId)}) AS kiosk_member ON true
                   LEFT JOIN LATERAL (${memberTierSql(memberId)}) AS kiosk_tier ON true
                   ${facts}`;
    const { rows } = await db.query<KioskMemberRow>(sql, values);
    return rows[0];
  }

  return async (card) => {
    let noticeRead = await notices.begin();
    let row = await read(card, noticeRead);
    const newer = noticeRead && row && (await notices.newerThan(noticeRead, row as NoticeFactsRow));
    if (newer) {
      noticeRead = newer;
      row = await read(card, newer);
    }
    if (!row) return undefined;
    const presented = usablePresentedCard(row);
    const snapshot = memberSnapshotOf(row, presented.memberId, presented, shownTierOf(row));
    if (!snapshot || !noticeRead) return snapshot;
    return notices.attach(snapshot, noticeRead, row as NoticeFactsRow, new Date(row.member_created_at!));
  };
}

/**
 * A kiosk's card lookup (req/card.lookup, by NFC UID or by the card number of a swipe): the member as a kiosk
 * sees them — with their program notices — and remembered as held by that kiosk, so later changes reach it.
 * A card the hub refuses (lost, frozen, cancelled, replaced) goes back as that refusal, in both languages.
 * Nothing is written here: `seen` only notes the holder in memory (member-fanout.ts writes them in batches).
 */
export function cardLookups(memberByCard: KioskMemberRead, members: Pick<MemberFanout, 'seen'>): DeviceRequestHandler {
  return {
    async answer(raw, { deviceId }) {
      // The gateway validated it against the contract, which admits exactly one of the two keys.
      const request = raw as unknown as CardLookupRequest;
      const member = await memberByCard('cardUid' in request ? { cardUid: request.cardUid } : { cardNumber: request.cardNumber });
      if (!member) throw cardErrors.CARD_NOT_FOUND({ zh: '此卡未登记', en: 'This card is not registered' });
      members.seen(deviceId, member);
      return member;
    },
  };
}
