import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { LedgerError } from './errors.ts';

export type ActorType = 'member' | 'operator' | 'device' | 'system';

/** Who caused a change (DESIGN.md decision 11); stored on every ledger transaction. */
export interface Actor {
  type: ActorType;
  id: string;
}

export type Asset = 'CNY' | 'POINTS';

/**
 * A member as the hub returns it: the shared MemberSnapshot, except that a member without any card yet
 * has no cardUid (the snapshot a kiosk caches always has one, since kiosks find members by card).
 */
export type MemberView = Omit<MemberSnapshot, 'cardUid'> & { cardUid?: string };

/** The kiosk-facing snapshot of a member; every member a kiosk can reach has a card. */
export function toSnapshot(member: MemberView): MemberSnapshot {
  const { cardUid } = member;
  if (cardUid === undefined) throw new LedgerError('CARD_NOT_FOUND', 'This member has no card yet.');
  return { ...member, cardUid };
}
