/**
 * The hub's store of program rule sets: every published set is a new, immutable version (the table refuses
 * UPDATE and DELETE), so a kiosk transaction evaluated with version N can be re-evaluated with exactly N.
 *
 * Version 1 is DEFAULT_PROGRAM_RULES, written the first time anyone asks (so a fresh hub has rules without
 * a seeding step, and the defaults are pinned in the database: a later code change to the defaults does
 * not silently change what version 1 meant).
 */
import { MAX_PAYLOAD_BYTES } from '../../shared/contract/decode.ts';
import { DEFAULT_PROGRAM_RULES, programRuleProblems, type ProgramRules } from '../../shared/rules/program.ts';
import type { Database, Queryable } from '../db/database.ts';
import { kernelErrors, type HubError } from '../kernel/errors.ts';
import { invalid } from '../kernel/input.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, textOf } from '../kernel/input.ts';

export interface PublishedRules {
  readonly version: number;
  readonly rules: ProgramRules;
  readonly publishedAt: string;
  readonly actor: Actor;
  readonly reason: string;
}

interface RuleSetRow {
  version: number;
  rules: ProgramRules;
  actor_type: Actor['type'];
  actor_id: string;
  reason: string;
  published_at: Date | string;
}

const toPublished = (row: RuleSetRow): PublishedRules => ({
  version: Number(row.version),
  rules: row.rules,
  publishedAt: new Date(row.published_at).toISOString(),
  actor: { type: row.actor_type, id: row.actor_id },
  reason: row.reason,
});

const DEFAULTS_ACTOR: Actor = { type: 'system', id: 'program-defaults' };
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('member-kiosk:program_rule_sets'))`;

/** Called with every newly published version (rule distribution to kiosks listens here). */
export type PublishListener = (published: PublishedRules) => void;

/** Refuses a rule set with every problem in the message (the operator fixes the whole form in one pass). */
export function rulesInvalid(problems: readonly string[]): HubError {
  return kernelErrors.RULES_INVALID({ zh: `会员规则未发布，原因：${problems.join('；')}`, en: `The program rules were not published because: ${problems.join('; ')}` });
}

/**
 * Rules travel to kiosks inside their configuration message, which kiosks refuse above MAX_PAYLOAD_BYTES; the
 * rest of that message (store name, footer, limits, envelope) stays well under 2 KiB.
 */
export const MAX_RULES_BYTES = MAX_PAYLOAD_BYTES - 2 * 1024;

export class RulesStore {
  private readonly listeners = new Set<PublishListener>();
  /** Versions already read (immutable, so never stale). */
  private readonly published = new Map<number, PublishedRules>();

  /**
   * Call it outside your own database transaction (on PGlite a query on `db` inside one would wait for it):
   * read the rules first, then open the transaction that uses them.
   */
  constructor(private readonly db: Database) {}

  /**
   * The latest published version read inside the caller's transaction (the tier update that follows a payment
   * runs in the payment's transaction, where PGlite must not be asked through `db`).
   */
  async currentWithin(tx: Queryable): Promise<PublishedRules> {
    const latest = await this.latest(tx);
    if (latest) return latest;
    await tx.query(LOCK);
    return (await this.latest(tx)) ?? insert(tx, 1, DEFAULT_PROGRAM_RULES, DEFAULTS_ACTOR, 'initial program rules (defaults)');
  }

  /** The latest published version (version 1 = the defaults on a fresh hub). */
  async current(): Promise<PublishedRules> {
    const latest = await this.latest(this.db);
    if (latest) return latest;
    await this.db.transaction(async (tx) => {
      await tx.query(LOCK);
      if (await this.latest(tx)) return;
      await insert(tx, 1, DEFAULT_PROGRAM_RULES, DEFAULTS_ACTOR, 'initial program rules (defaults)');
    });
    return (await this.latest(this.db))!;
  }

  /**
   * One version; NOT_FOUND when it was never published. Versions never change once published, so each is read
   * from the database once: every kiosk top-up asks for the version it was priced with.
   */
  async byVersion(version: number): Promise<PublishedRules> {
    if (!Number.isSafeInteger(version) || version < 1) throw invalid(`规则版本须为 ≥ 1 的整数：${String(version)}`, `Rule version must be a whole number ≥ 1: ${String(version)}`);
    const known = this.published.get(version);
    if (known) return known;
    if (version === 1) await this.current();
    const { rows } = await this.db.query<RuleSetRow>('SELECT * FROM program_rule_sets WHERE version = $1', [version]);
    if (!rows[0]) throw kernelErrors.NOT_FOUND({ zh: `没有版本为 ${version} 的会员规则`, en: `No program rules have version ${version}` });
    const published = toPublished(rows[0]);
    this.published.set(version, published);
    return published;
  }

  /** Every version, newest first (for the history view). */
  async history(limit = 50): Promise<PublishedRules[]> {
    await this.current();
    const { rows } = await this.db.query<RuleSetRow>('SELECT * FROM program_rule_sets ORDER BY version DESC LIMIT $1', [limit]);
    return rows.map(toPublished);
  }

  /** Validates and publishes `rules` as the next version; RULES_INVALID (every problem listed) changes nothing. */
  async publish(rules: unknown, actor: Actor, reason: string): Promise<PublishedRules> {
    const who = actorOf(actor);
    const why = textOf(reason, 'reason', 200);
    const problems = programRuleProblems(rules);
    const bytes = Buffer.byteLength(JSON.stringify(rules ?? null));
    if (bytes > MAX_RULES_BYTES) problems.push(`the rule set is ${bytes} bytes; kiosks receive at most ${MAX_RULES_BYTES} (trim campaigns or brackets)`);
    if (problems.length > 0) throw rulesInvalid(problems);
    await this.current();
    const published = await this.db.transaction(async (tx) => {
      // Serialises publishers, so versions are gap-free and each publish sees the one before it.
      await tx.query(LOCK);
      const { rows } = await tx.query<{ next: number }>('SELECT coalesce(max(version), 0) + 1 AS next FROM program_rule_sets');
      return insert(tx, Number(rows[0]!.next), rules as ProgramRules, who, why);
    });
    for (const listener of this.listeners) listener(published);
    return published;
  }

  /** Calls `listener` after every publish through this store; returns the unsubscribe function. */
  onPublished(listener: PublishListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async latest(q: Queryable): Promise<PublishedRules | undefined> {
    const { rows } = await q.query<RuleSetRow>('SELECT * FROM program_rule_sets ORDER BY version DESC LIMIT 1');
    return rows[0] && toPublished(rows[0]);
  }
}

async function insert(tx: Queryable, version: number, rules: ProgramRules, actor: Actor, reason: string): Promise<PublishedRules> {
  const { rows } = await tx.query<RuleSetRow>(
    `INSERT INTO program_rule_sets (version, rules, actor_type, actor_id, reason) VALUES ($1, $2::jsonb, $3, $4, $5) RETURNING *`,
    [version, JSON.stringify(rules), actor.type, actor.id, reason],
  );
  return toPublished(rows[0]!);
}
