import { bindCard } from '../../cloud/cards/index.ts';
import type { RunningHub } from '../../cloud/hub.ts';
import type { ConfigShadow } from '../../cloud/sync/index.ts';
import { DEFAULT_OFFLINE_LIMITS } from '../../shared/offline-limits.ts';

/** The demo's members and cards; one card is deliberately unregistered to show the refusal. */
export const DEMO_CARDS = [
  { uid: '04A22B1C', label: '张三 Zhang San (¥50, 120 积分)', member: { name: '张三', openingFen: 5000, points: 120 } },
  { uid: '04B7C2D9E1F080', label: '李四 Li Si (new member, 7-byte UID)', member: { name: '李四', openingFen: 0, points: 0 } },
  { uid: '0BADCAFE', label: '未登记 Unregistered card', member: undefined },
];

const operator = { type: 'operator' as const, id: 'demo-seed' };

/** Creates the demo members once; on later starts their cards are already bound and nothing changes. */
export async function seedDemoMembers(hub: Pick<RunningHub, 'db' | 'ledger' | 'memberByCard'>): Promise<void> {
  const { db, ledger } = hub;
  for (const card of DEMO_CARDS) {
    if (!card.member || (await hub.memberByCard(card.uid))) continue;
    const { memberId } = await ledger.createMember({ name: card.member.name, actor: operator });
    await bindCard(db, ledger, { memberId, cardUid: card.uid, actor: operator });
    if (card.member.openingFen > 0) {
      await ledger.topUpCash({ idempotencyKey: `demo-opening-${card.uid}`, memberId, amountFen: card.member.openingFen, actor: operator });
    }
    if (card.member.points > 0) {
      await ledger.adjustPoints({
        idempotencyKey: `demo-points-${card.uid}`,
        memberId,
        points: card.member.points,
        reason: 'Demo opening points',
        actor: operator,
      });
    }
  }
}

/**
 * Configures the demo kiosk once, as an operator would, under the store name it shows: its configuration carries
 * the hub's program rules (the defaults: 充100送20, 充200送50, 充300送100), so the kiosk offers top-up bonuses from
 * its first connection. On later starts, or after a change over REST, the configuration it has is kept.
 */
export async function seedDemoKioskConfig(shadow: ConfigShadow, deviceId: string, storeName: string): Promise<void> {
  await shadow.ensureDesired(deviceId, { storeName, receiptFooter: '谢谢惠顾 Thank you', offlineLimits: DEFAULT_OFFLINE_LIMITS });
}
