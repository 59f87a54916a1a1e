import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';

export type CouponAuditAction = 'template_created' | 'template_updated' | 'issued' | 'used' | 'restored' | 'expired' | 'birthday_set' | 'voided';

/** One change to a coupon template, a coupon or a member's birthday: who, why, what (coupon_audit is append-only). */
export interface CouponAuditEntry {
  templateId?: string;
  couponId?: string;
  memberId?: string;
  action: CouponAuditAction;
  actor: Actor;
  reason: string;
  detail?: unknown;
}

export async function recordCouponAudit(tx: Queryable, entry: CouponAuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO coupon_audit (template_id, coupon_id, member_id, action, actor_type, actor_id, reason, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [
      entry.templateId ?? null,
      entry.couponId ?? null,
      entry.memberId ?? null,
      entry.action,
      entry.actor.type,
      entry.actor.id,
      entry.reason,
      entry.detail === undefined ? null : JSON.stringify(entry.detail),
    ],
  );
}

export interface CouponAuditRecord {
  action: CouponAuditAction;
  actor: Actor;
  reason: string;
  createdAt: string;
}

/** A coupon's history, oldest first. */
export async function couponHistory(q: Queryable, couponId: string): Promise<CouponAuditRecord[]> {
  const { rows } = await q.query<{ action: CouponAuditAction; actor_type: Actor['type']; actor_id: string; reason: string; created_at: Date }>(
    'SELECT action, actor_type, actor_id, reason, created_at FROM coupon_audit WHERE coupon_id = $1 ORDER BY id',
    [couponId],
  );
  return rows.map((r) => ({ action: r.action, actor: { type: r.actor_type, id: r.actor_id }, reason: r.reason, createdAt: new Date(r.created_at).toISOString() }));
}

/** Where long-running coupon jobs report progress (pino, or Fastify's request logger). */
export interface ProgressLog {
  info(details: object, message: string): void;
}
