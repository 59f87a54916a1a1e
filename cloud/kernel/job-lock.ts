import type { Database } from '../db/database.ts';
import { type JobLock, runUnlocked } from './scheduler.ts';

/**
 * One hub at a time per job. Every job is idempotent, so several hubs on one database running the same job
 * together would still be correct; the lock only saves them the duplicate work (and the duplicate tier-review
 * run rows). If a hub's lock connection drops mid-run, another hub may start the same job: harmless, for the
 * same reason.
 *
 * PostgreSQL: a transaction-scoped advisory lock (pg_try_advisory_xact_lock), taken on a connection of its own
 * and held while the job works on other pooled connections; a session lock taken through the pool could be
 * released on a different connection than it was taken on. The holding transaction writes nothing and runs no
 * statement while it waits, so it keeps neither row locks nor an old snapshot.
 *
 * PGlite has the same functions, but a PGlite database belongs to this one process (there is no second hub to
 * keep out), and its single connection would make the job's own queries wait behind the holding transaction.
 */
export function hubJobLock(db: Database): JobLock {
  if (db.backend === 'pglite') return runUnlocked;
  return (jobName, fn) =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<{ acquired: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS acquired', [
        `member-kiosk:job:${jobName}`,
      ]);
      return rows[0]!.acquired ? { acquired: true as const, value: await fn() } : { acquired: false as const };
    });
}
