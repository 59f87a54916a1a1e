import type { MemberSnapshot } from '../../shared/contract/payloads.ts';

export type Asset = 'CNY' | 'POINTS';

/**
 * A member as the hub returns it over REST: the shared MemberSnapshot, except that a member without any card
 * yet has no cardUid (the snapshot a kiosk caches always has one, since kiosks find members by card), plus the
 * member's home store when they have one (HQ-registered and legacy members have none).
 */
export type MemberView = Omit<MemberSnapshot, 'cardUid'> & { cardUid?: string; homeStoreId?: string };

/**
 * The kiosk-facing snapshot of a member; every member a kiosk can reach has a card. The home store stays on
 * the hub (it decides which operators reach the member, kiosks have no use for it) and is dropped here: the
 * MQTT contract's MemberSnapshot admits no field beyond its own, and its fields keep their order.
 */
export function toSnapshot(member: MemberView): MemberSnapshot {
  const { homeStoreId: _hubOnly, ...snapshot } = member;
  const { cardUid } = snapshot;
  // Kiosks find members by card: a member a kiosk reaches always has one.
  if (cardUid === undefined) throw new Error(`member ${member.memberId} has no card to show a kiosk`);
  return { ...snapshot, cardUid };
}
