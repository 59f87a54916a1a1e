import type { Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';

export type AuditAction = 'region_created' | 'store_created' | 'operator_created' | 'operator_deactivated' | 'bootstrap_admin_refreshed';

export interface AuditEntry {
  actor: Actor;
  action: AuditAction;
  /** The region, store or operator changed. */
  subjectId: string;
  reason: string;
  detail?: Record<string, unknown>;
}

/** Records an organisation change; call inside the transaction that makes it, so both commit or neither does. */
export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await tx.query(
    'INSERT INTO operator_audit (actor_type, actor_id, action, subject_id, reason, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
    [entry.actor.type, entry.actor.id, entry.action, entry.subjectId, entry.reason, entry.detail ? JSON.stringify(entry.detail) : null],
  );
}

export interface AuditRecord extends AuditEntry {
  at: string;
}

/** The changes made to one subject, oldest first. */
export async function auditTrail(q: Queryable, subjectId: string): Promise<AuditRecord[]> {
  const { rows } = await q.query<{
    actor_type: Actor['type'];
    actor_id: string;
    action: AuditAction;
    subject_id: string;
    reason: string;
    detail: Record<string, unknown> | null;
    created_at: Date;
  }>('SELECT * FROM operator_audit WHERE subject_id = $1 ORDER BY id', [subjectId]);
  return rows.map((row) => ({
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    subjectId: row.subject_id,
    reason: row.reason,
    ...(row.detail ? { detail: row.detail } : {}),
    at: new Date(row.created_at).toISOString(),
  }));
}
