/**
 * The hub's durable outbox: what must follow a commit but cannot share its transaction (a reward paid to another
 * member, anything that takes locks the committing transaction must not take) is written as a row in that same
 * transaction, and consumed afterwards exactly once: a row's handler runs in a transaction that also deletes
 * the row, so the handler's writes and the row's removal commit together or not at all. A handler that fails
 * leaves its row for a retry with backoff (the failure is logged); nothing is lost to a crash between the
 * commit and the follow-up, because the follow-up is a row of that commit.
 *
 * Rows are taken with FOR UPDATE SKIP LOCKED, so several hubs on one PostgreSQL share the work without taking
 * the same row. Handlers come from the modules' descriptors (`followUps`), by topic.
 */
import type { Logger } from '../../shared/logger.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { FollowUpHandler } from './module.ts';

const MAX_BACKOFF_S = 300;

interface OutboxRow {
  id: string;
  topic: string;
  payload: unknown;
  attempts: number;
}

export interface OutboxOptions {
  db: Database;
  logger: Logger;
  /** How often due rows are looked for when nobody pokes (default 1 s). */
  intervalMs?: number;
}

export class Outbox {
  private readonly handlers = new Map<string, FollowUpHandler>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;

  constructor(private readonly options: OutboxOptions) {}

  /** Registers the consumer of a topic (one per topic). */
  handle(topic: string, handler: FollowUpHandler): void {
    if (this.handlers.has(topic)) throw new Error(`outbox topic ${topic} already has a consumer`);
    this.handlers.set(topic, handler);
  }

  /** Inside the caller's transaction: the follow-up exists if and only if that transaction commits. */
  async add(tx: Queryable, topic: string, payload: unknown): Promise<void> {
    if (!this.handlers.has(topic)) throw new Error(`outbox topic ${topic} has no consumer`);
    await tx.query('INSERT INTO outbox (topic, payload) VALUES ($1, $2::jsonb)', [topic, JSON.stringify(payload)]);
  }

  start(): void {
    this.timer = setInterval(() => this.poke(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
  }

  /** Consumes what is due now, soon: call it after committing a transaction that added follow-ups. */
  poke(): void {
    void this.runDue();
  }

  /**
   * Consumes every due row, one transaction each; resolves with how many were consumed. A call while a run is
   * going joins it and runs once more after it (the running one may have looked before the latest commit).
   */
  async runDue(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.consumeAll().finally(() => {
      this.running = undefined;
    });
    const consumed = await this.running;
    if (this.again) {
      this.again = false;
      return consumed + (await this.runDue());
    }
    return consumed;
  }

  private async consumeAll(): Promise<number> {
    let consumed = 0;
    try {
      for (let outcome = await this.consumeOne(); outcome !== 'none'; outcome = await this.consumeOne()) {
        if (outcome === 'consumed') consumed++;
      }
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'outbox: could not read due follow-ups; the next run retries');
    }
    return consumed;
  }

  /** Consumes the oldest due row, or postpones it when its handler fails. */
  private async consumeOne(): Promise<'consumed' | 'postponed' | 'none'> {
    let taken: OutboxRow | undefined;
    try {
      return await this.options.db.transaction(async (tx) => {
        const { rows } = await tx.query<OutboxRow>(
          `SELECT id, topic, payload, attempts FROM outbox WHERE next_attempt_at <= now()
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        );
        taken = rows[0];
        if (!taken) return 'none';
        const handler = this.handlers.get(taken.topic);
        if (!handler) throw new Error(`no consumer for outbox topic ${taken.topic}`);
        await handler(tx, taken.payload);
        await tx.query('DELETE FROM outbox WHERE id = $1', [taken.id]);
        return 'consumed' as const;
      });
    } catch (error) {
      if (!taken) throw error;
      await this.postpone(taken, error as Error);
      return 'postponed';
    }
  }

  private async postpone(row: OutboxRow, error: Error): Promise<void> {
    const delayS = Math.min(MAX_BACKOFF_S, 2 ** Math.min(row.attempts, 16));
    this.options.logger.error({ topic: row.topic, outboxId: row.id, attempts: row.attempts + 1, retryInS: delayS, err: error.message }, 'outbox follow-up failed; it will be retried');
    await this.options.db.query(
      `UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
      [row.id, error.message.slice(0, 500), delayS],
    );
  }
}
