import type { Database, Queryable } from '../db/database.ts';

/** The first run of sequence numbers the hub has never received, below one it has. */
export interface SequenceGap {
  fromSeq: number;
  toSeq: number;
}

export type SequenceClaim = { ok: true } | { ok: false; claimedBy: string };

export interface SettledSequence {
  /** Every sequence number up to this one is settled. */
  contiguous: number;
  /** Present while some later sequence number is settled and the ones below it are missing. */
  gap?: SequenceGap;
}

/** One device sequence number, and the transaction that uses it. */
export interface SequenceUse {
  deviceId: string;
  seq: number;
  txId: string;
}

const byDeviceAndSeq = (a: { deviceId: string; seq: number }, b: { deviceId: string; seq: number }) =>
  a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.seq - b.seq;

/**
 * Per-device sequence tracking (table device_seqs / device_sync, migration 005). A transaction first claims its
 * (device, seq); a different txId already holding it is a conflict and must post nothing. Once the hub has
 * given its final answer the sequence is settled, and the contiguous mark moves up over every settled number.
 * The `…All` forms work on a whole batch inside the caller's transaction, with one statement per step; rows are
 * always locked in (device, seq) order, so two batches never wait on each other in a cycle.
 */
export class DeviceSequences {
  constructor(private readonly db: Database) {}

  /** Claims `seq` for `txId`; claiming it again with the same txId (a replay) is fine. */
  async claim(deviceId: string, seq: number, txId: string): Promise<SequenceClaim> {
    return (await this.claimAll(this.db, [{ deviceId, seq, txId }]))[0]!;
  }

  /**
   * Claims every (device, seq) for its txId, in `q`; one claim per use, in order. Within `uses` the first txId
   * to name a (device, seq) claims it, as if they had come one after the other.
   */
  async claimAll(q: Queryable, uses: readonly SequenceUse[]): Promise<SequenceClaim[]> {
    const first = new Map<string, SequenceUse>();
    for (const use of uses) if (!first.has(`${use.deviceId}\n${use.seq}`)) first.set(`${use.deviceId}\n${use.seq}`, use);
    const claims = [...first.values()].sort(byDeviceAndSeq);
    await q.query(
      `INSERT INTO device_seqs (device_id, seq, tx_id)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING`,
      [claims.map((c) => c.deviceId), claims.map((c) => c.seq), claims.map((c) => c.txId)],
    );
    const { rows } = await q.query<{ device_id: string; seq: number; tx_id: string }>(
      `SELECT s.device_id, s.seq, s.tx_id FROM device_seqs s
         JOIN unnest($1::text[], $2::bigint[]) AS c(device_id, seq) ON c.device_id = s.device_id AND c.seq = s.seq`,
      [claims.map((c) => c.deviceId), claims.map((c) => c.seq)],
    );
    const holder = new Map(rows.map((row) => [`${row.device_id}\n${row.seq}`, row.tx_id]));
    return uses.map((use) => {
      const claimedBy = holder.get(`${use.deviceId}\n${use.seq}`)!;
      return claimedBy === use.txId ? { ok: true } : { ok: false, claimedBy };
    });
  }

  /** Marks `seq` settled and advances the contiguous mark; reports the first remaining gap, if any. */
  async settle(deviceId: string, seq: number): Promise<SettledSequence> {
    const settled = await this.db.transaction((tx) => this.settleAll(tx, [{ deviceId, seq }]));
    return settled.get(deviceId)!;
  }

  /**
   * Marks every (device, seq) settled in `tx` and advances each device's contiguous mark (under its device_sync
   * row lock); reports per device the mark and the first remaining gap, if any.
   */
  async settleAll(tx: Queryable, settles: ReadonlyArray<{ deviceId: string; seq: number }>): Promise<Map<string, SettledSequence>> {
    const sorted = [...settles].sort(byDeviceAndSeq);
    const devices = [...new Set(sorted.map((s) => s.deviceId))];
    if (devices.length === 0) return new Map();
    await tx.query(
      `UPDATE device_seqs SET settled = true FROM unnest($1::text[], $2::bigint[]) AS s(device_id, seq)
        WHERE device_seqs.device_id = s.device_id AND device_seqs.seq = s.seq`,
      [sorted.map((s) => s.deviceId), sorted.map((s) => s.seq)],
    );
    await tx.query('INSERT INTO device_sync (device_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [devices]);
    const locked = await tx.query<{ device_id: string; contiguous_seq: number }>(
      'SELECT device_id, contiguous_seq FROM device_sync WHERE device_id = ANY($1::text[]) ORDER BY device_id FOR UPDATE',
      [devices],
    );
    const marks = await walk(tx, locked.rows);
    await tx.query(
      `UPDATE device_sync SET contiguous_seq = m.contiguous, updated_at = now()
         FROM unnest($1::text[], $2::bigint[]) AS m(device_id, contiguous) WHERE device_sync.device_id = m.device_id`,
      [[...marks.keys()], [...marks.values()].map((mark) => mark.contiguous)],
    );
    return marks;
  }

  async contiguous(deviceId: string): Promise<number> {
    const { rows } = await this.db.query<{ contiguous_seq: number }>('SELECT contiguous_seq FROM device_sync WHERE device_id = $1', [
      deviceId,
    ]);
    return rows[0]?.contiguous_seq ?? 0;
  }
}

/**
 * Moves each device's mark up over the unbroken run of settled numbers right above it, and finds the first settled
 * number past the hole that ends the run (gaps and islands: in the run, seq − mark equals the row's rank).
 */
async function walk(tx: Queryable, devices: ReadonlyArray<{ device_id: string; contiguous_seq: number }>): Promise<Map<string, SettledSequence>> {
  const { rows } = await tx.query<{ device_id: string; run_to: number | null; next_settled: number | null }>(
    `SELECT device_id, max(seq) FILTER (WHERE hole = 0) AS run_to, min(seq) FILTER (WHERE hole > 0) AS next_settled
       FROM (SELECT s.device_id, s.seq, s.seq - m.contiguous - row_number() OVER (PARTITION BY s.device_id ORDER BY s.seq) AS hole
               FROM device_seqs s JOIN unnest($1::text[], $2::bigint[]) AS m(device_id, contiguous)
                 ON s.device_id = m.device_id AND s.seq > m.contiguous
              WHERE s.settled) above
      GROUP BY device_id`,
    [devices.map((d) => d.device_id), devices.map((d) => d.contiguous_seq)],
  );
  const found = new Map(rows.map((row) => [row.device_id, row]));
  return new Map(
    devices.map(({ device_id: deviceId, contiguous_seq: mark }) => {
      const row = found.get(deviceId);
      const contiguous = row?.run_to ?? mark;
      const next = row?.next_settled ?? undefined;
      return [deviceId, next === undefined ? { contiguous } : { contiguous, gap: { fromSeq: contiguous + 1, toSeq: next - 1 } }];
    }),
  );
}
