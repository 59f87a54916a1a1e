import { isMonthDay } from '../../shared/rules/coupons.ts';
import type { Database } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, invalid, textOf } from '../kernel/input.ts';
import { memberIdOf, setBirthday as storeBirthday } from '../ledger/index.ts';
import { recordCouponAudit } from './audit.ts';

/** Sets (or clears, with null) a member's birthday, "MM-DD", for the birthday segment; audited with actor and reason. */
export async function setBirthday(db: Database, memberId: string, birthMonthDay: string | null, actor: Actor, reason: string): Promise<void> {
  const id = memberIdOf(memberId);
  if (birthMonthDay !== null && !isMonthDay(birthMonthDay)) {
    throw invalid('birthMonthDay 须为 MM-DD 格式，例如 03-15', 'birthMonthDay must be MM-DD, e.g. 03-15');
  }
  const who = actorOf(actor);
  const why = textOf(reason, 'reason', 200);
  await db.transaction(async (tx) => {
    await storeBirthday(tx, id, birthMonthDay);
    await recordCouponAudit(tx, { memberId: id, action: 'birthday_set', actor: who, reason: why, detail: { birthMonthDay } });
  });
}
