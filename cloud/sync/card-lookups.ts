import type { CardLookupRequest, MemberSnapshot } from '../../shared/contract/payloads.ts';
import { cardErrors, memberByCard, memberByCardNumber } from '../cards/index.ts';
import type { Queryable } from '../db/database.ts';
import type { DeviceRequestHandler } from '../kernel/module.ts';
import type { Ledger } from '../ledger/index.ts';
import type { KioskNotices } from '../program/index.ts';
import type { MemberFanout } from './member-fanout.ts';

/**
 * A kiosk's card lookup (req/card.lookup, by NFC UID or by the card number of a swipe): the member as a kiosk
 * sees them — with their program notices — and remembered as held by that kiosk, so later changes reach it.
 * A card the hub refuses (lost, frozen, cancelled, replaced) goes back as that refusal, in both languages.
 */
export function cardLookups(db: Queryable, ledger: Ledger, notices: KioskNotices, members: Pick<MemberFanout, 'seen'>): DeviceRequestHandler {
  return {
    async answer(raw, { deviceId }) {
      // The gateway validated it against the contract, which admits exactly one of the two keys.
      const request = raw as unknown as CardLookupRequest;
      const found = 'cardUid' in request ? await memberByCard(db, ledger, request.cardUid) : await memberByCardNumber(db, ledger, request.cardNumber);
      if (!found) throw cardErrors.CARD_NOT_FOUND({ zh: '此卡未登记', en: 'This card is not registered' });
      const member: MemberSnapshot = (await notices.attach(found))!;
      void members.seen(deviceId, member);
      return member;
    },
  };
}
