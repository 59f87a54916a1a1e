import { performance } from 'node:perf_hooks';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { MemberSnapshot, MemberUpdate } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import { recentlyChangedMembersSql } from '../ledger/index.ts';

import type { Publish } from './publish.ts';

/** How far back the interval's sweep looks for changed members: well beyond its interval, so a commit that took seconds is not missed… */
const RECENT_SECONDS = 15;
/**
 * …and every WIDE_SWEEP_EVERY-th of them (the first one too) this far back, for a commit that took minutes. Minutes
 * of changes read every second would be, at a steady 500 tx/s, up to 150,000 members a second (measured under the
 * ingest bench: a fifth of PostgreSQL's CPU per transaction).
 */
const WIDE_RECENT_SECONDS = 300;
const WIDE_SWEEP_EVERY = 60;

/**
 * Sweeps of just the named members start at least this far apart. Under load the gateway names members after every
 * batch, hundreds of times a second, and a sweep is two statements (the notes' upsert, the comparison) whatever it
 * covers: back to back they add two round trips and a write to each batch's twenty-odd statements. A kiosk learns of
 * a member another kiosk changed at most this much later; its own transaction's ack carries the member at once.
 */
const NAMED_SWEEP_GAP_MS = 50;

export interface MemberFanoutOptions {
  db: Database;
  /** The member holding this card now, as a kiosk that caches it under this card sees them. */
  snapshotOf(cardUid: string): Promise<MemberSnapshot | undefined>;
  logger: Logger;
  /** A sweep also runs this often, so changes made outside this process (REST, other hubs) go out too. */
  intervalMs?: number;
}

/**
 * Pushes a fresh member snapshot (`member` topic) to every kiosk that has that member cached, whoever changed
 * the member. The trigger is the member's `version`, which the ledger bumps in the same database transaction
 * as every balance or card change: a sweep compares it with the version each kiosk was last sent
 * (device_members, migration 005). Driving it from committed state rather than from call sites means no
 * write path can be forgotten (REST, device gateway, future jobs, another hub instance) and nothing is sent
 * for a transaction that rolled back; the ledger knows nothing of MQTT, and tells which members changed. After each
 * batch of device transactions the gateway names the members it changed (`changed`), which are swept on their own;
 * the interval sweep reads every member changed in the last seconds (minutes, once a minute), and covers every other writer.
 */
export class MemberFanout {
  private publish: Publish | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** When the last sweep started (performance.now()), and the sweep of named members waiting for the gap to pass. */
  private lastSweepAt = -Infinity;
  private deferred: { started: Promise<void>; release(): void } | undefined;
  /** The next sweep reads every recently changed member (the interval, poke), not only the ones named to it. */
  private windowWanted = false;
  /** Window sweeps so far: which of them looks WIDE_RECENT_SECONDS back. */
  private windowSweeps = 0;
  /** Members named by `changed` since the last sweep, at the highest version named. */
  private readonly named = new Map<string, number>();
  /** Who holds which card since the last flush, one note per (device, card): the highest version seen. */
  private readonly pending = new Map<string, { deviceId: string; cardUid: string; memberId: string; version: number }>();

  constructor(private readonly options: MemberFanoutOptions) {}

  start(publish: Publish): void {
    this.publish = publish;
    this.timer = setInterval(() => this.poke(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.publish = undefined;
    // With nothing to publish through, it would only read (as a sweep queued behind a running one is dropped).
    this.deferred?.release();
    await this.idle();
    await this.flushSeen();
  }

  /** Resolves once no sweep is running or queued. */
  async idle(): Promise<void> {
    while (this.running || this.deferred) await (this.running ?? this.deferred!.started);
  }

  /**
   * Notes that `deviceId` now holds `member` at its version (it looked the card up, or got an ack). Only in memory:
   * a card lookup is a read and must not wait for a write. The next sweep writes every note since the last one as
   * one multi-row upsert before it looks for changed members, so a change committed after the lookup still reaches
   * the kiosk; stop() writes what is left.
   */
  seen(deviceId: string, member: MemberSnapshot): void {
    const key = `${deviceId}\u0000${member.cardUid}`;
    const noted = this.pending.get(key);
    if (noted && noted.version >= member.version) return;
    this.pending.set(key, { deviceId, cardUid: member.cardUid, memberId: member.memberId, version: member.version });
  }

  /** Writes the pending notes; kept for the next flush if the write fails (tracking is a freshness aid, never an error). */
  private async flushSeen(): Promise<void> {
    if (this.pending.size === 0) return;
    const notes = [...this.pending.values()];
    this.pending.clear();
    try {
      await this.options.db.query(
        `INSERT INTO device_members (device_id, card_uid, member_id, known_version)
         SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::integer[])
         ON CONFLICT (device_id, card_uid) DO UPDATE
           SET member_id = EXCLUDED.member_id, known_version = GREATEST(device_members.known_version, EXCLUDED.known_version),
               last_seen = now()`,
        [notes.map((n) => n.deviceId), notes.map((n) => n.cardUid), notes.map((n) => n.memberId), notes.map((n) => n.version)],
      );
    } catch (error) {
      for (const note of notes) {
        const key = `${note.deviceId}\u0000${note.cardUid}`;
        if ((this.pending.get(key)?.version ?? -1) < note.version) this.pending.set(key, note);
      }
      this.options.logger.warn({ devices: notes.length, err: (error as Error).message }, 'could not record which members devices know; retried with the next sweep');
    }
  }

  /** Runs a sweep of every recently changed member now, or right after the one in progress (which may have read before the latest commit). */
  poke(): void {
    this.windowWanted = true;
    this.run();
  }

  /**
   * These members changed in a transaction that committed (a batch of device transactions): a sweep of just them,
   * now or right after the one in progress. Cheap whatever the load: the interval sweep reads seconds (once a minute, minutes) of changes.
   * A sweep that fails drops them, and the next interval sweep finds them in its window.
   */
  changed(members: Iterable<{ memberId: string; version: number }>): void {
    for (const { memberId, version } of members) if ((this.named.get(memberId) ?? -1) < version) this.named.set(memberId, version);
    if (this.named.size > 0) this.run();
  }

  private run(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.lastSweepAt + NAMED_SWEEP_GAP_MS - performance.now();
    if (!this.windowWanted && wait > 0) return this.deferRun(wait);
    // This sweep takes the named members of the deferred one.
    this.deferred?.release();
    this.lastSweepAt = performance.now();
    this.running = this.sweepSafely().finally(() => {
      this.running = undefined;
      if (this.again && this.publish) {
        this.again = false;
        this.run();
      }
    });
  }

  /** Runs the sweep of named members once `ms` have passed, unless another sweep starts first and takes them. */
  private deferRun(ms: number): void {
    if (this.deferred) return;
    let resolve: () => void = () => undefined;
    const started = new Promise<void>((done) => (resolve = done));
    const timer = setTimeout(() => {
      release();
      this.run();
    }, ms);
    const release = () => {
      clearTimeout(timer);
      this.deferred = undefined;
      resolve();
    };
    this.deferred = { started, release };
  }

  private async sweepSafely(): Promise<void> {
    try {
      await this.sweep();
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'member fan-out sweep failed; the next one retries');
    }
  }

  private async sweep(): Promise<void> {
    const { db, snapshotOf, logger } = this.options;
    await this.flushSeen();
    const named = [...this.named];
    this.named.clear();
    const window = this.windowWanted;
    this.windowWanted = false;
    if (!window && named.length === 0) return;
    // Every member changed in the last seconds or minutes (which include the named ones), or just the named ones.
    const changed = window
      ? { sql: recentlyChangedMembersSql('$1'), params: [this.windowSweeps++ % WIDE_SWEEP_EVERY === 0 ? WIDE_RECENT_SECONDS : RECENT_SECONDS] }
      : { sql: 'SELECT * FROM unnest($1::uuid[], $2::bigint[]) AS named(member_id, version)', params: [named.map(([id]) => id), named.map(([, version]) => version)] };
    const { rows } = await db.query<{ device_id: string; card_uid: string }>(
      `SELECT dm.device_id, dm.card_uid FROM (${changed.sql}) AS changed
         JOIN device_members dm ON dm.member_id = changed.member_id
        WHERE changed.version > dm.known_version
        ORDER BY dm.card_uid`,
      changed.params,
    );
    const snapshots = new Map<string, MemberSnapshot | undefined>();
    for (const row of rows) {
      const publish = this.publish;
      if (!publish) return;
      if (!snapshots.has(row.card_uid)) {
        // A card the hub now refuses (lost, frozen, cancelled, replaced) gets no update; the kiosk's next lookup
        // or debit with it is refused. One such card must not hold up everyone else's updates.
        const snapshot = await snapshotOf(row.card_uid).catch((error: unknown) => {
          logger.debug({ deviceId: row.device_id, err: (error as Error).message }, 'no member update for this card');
          return undefined;
        });
        snapshots.set(row.card_uid, snapshot);
      }
      const member = snapshots.get(row.card_uid);
      if (!member) continue;
      const update: MemberUpdate = { v: 1, member };
      await publish(topics.member(row.device_id), encodePayload(update));
      this.seen(row.device_id, member);
      logger.debug({ deviceId: row.device_id, memberId: member.memberId, version: member.version }, 'member update sent');
    }
  }
}
