import type { Database } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { recordCouponAudit, type ProgressLog } from './audit.ts';

const SYSTEM_ACTOR: Actor = { type: 'system', id: 'coupon-expiry-job' };
const BATCH = 1_000;

/**
 * Marks every issued coupon whose validity ended at or before `asOf` as expired (the window is half-open:
 * valid_until itself is already outside). Runs in batches, one transaction each, so a large backlog never
 * holds locks for long; running it again changes nothing. A coupon used concurrently is never expired:
 * the status guard is re-checked on the row.
 */
export async function expireCoupons(db: Database, options: { asOf?: Date; actor?: Actor; logger?: ProgressLog } = {}): Promise<{ expired: number }> {
  const asOf = options.asOf ?? new Date();
  const actor = options.actor ?? SYSTEM_ACTOR;
  let expired = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `UPDATE coupons SET status = 'expired'
          WHERE id IN (SELECT id FROM coupons WHERE status = 'issued' AND valid_until <= $1 ORDER BY id LIMIT ${BATCH})
            AND status = 'issued'
        RETURNING id`,
        [asOf],
      );
      for (const { id } of rows) {
        await recordCouponAudit(tx, { couponId: id, action: 'expired', actor, reason: `已过有效期（截至 ${asOf.toISOString()}）/ Validity ended (as of ${asOf.toISOString()})` });
      }
      return rows.length;
    });
    expired += batch;
    if (batch > 0) options.logger?.info({ expired, asOf: asOf.toISOString() }, 'coupon expiry in progress');
    if (batch < BATCH) break;
  }
  options.logger?.info({ expired, asOf: asOf.toISOString() }, 'coupon expiry done');
  return { expired };
}
