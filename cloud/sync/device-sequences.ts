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

/** A (device, seq) as one map key. */
const useKey = ({ deviceId, seq }: { deviceId: string; seq: number }) => `${deviceId}\n${seq}`;

const byDeviceAndSeq = (a: { deviceId: string; seq: number }, b: { deviceId: string; seq: number }) =>
  a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.seq - b.seq;

/**
 * Per-device sequence tracking (table device_seqs / device_sync, migration 005). A transaction claims its
 * (device, seq); a different txId already holding it is a conflict and must post nothing. The claim is made in the
 * database transaction that gives the hub's final answer (a batch, device-batch.ts), so it is written settled: the
 * two commit or vanish together. The contiguous mark then moves up over every settled number. Every method works on
 * a whole batch inside the caller's transaction, with as few statements as the common case allows; rows are always
 * locked in (device, seq) order, so two batches never wait on each other in a cycle.
 */
export class DeviceSequences {
  constructor(private readonly db: Database) {}

  /**
   * Claims every (device, seq) for its txId, in `tx`, settled; one claim per use, in order. Claiming again with the
   * same txId (a replay) is fine. Within `uses` the first txId to name a (device, seq) claims it, as if they had come
   * one after the other. One statement when every claim is new; a second finds who holds the others.
   */
  async claimAll(tx: Queryable, uses: readonly SequenceUse[]): Promise<SequenceClaim[]> {
    const first = new Map<string, SequenceUse>();
    for (const use of uses) if (!first.has(useKey(use))) first.set(useKey(use), use);
    const claims = [...first.values()].sort(byDeviceAndSeq);
    // A row of this txId left unsettled (by a hub from before claims were written settled) is settled now.
    const { rows: taken } = await tx.query<{ device_id: string; seq: number }>(
      `INSERT INTO device_seqs (device_id, seq, tx_id, settled)
       SELECT device_id, seq, tx_id, true FROM unnest($1::text[], $2::bigint[], $3::text[]) AS c(device_id, seq, tx_id)
       ON CONFLICT (device_id, seq) DO UPDATE SET settled = true WHERE device_seqs.tx_id = excluded.tx_id AND NOT device_seqs.settled
       RETURNING device_id, seq`,
      [claims.map((c) => c.deviceId), claims.map((c) => c.seq), claims.map((c) => c.txId)],
    );
    const holder = new Map<string, string>();
    for (const row of taken) {
      const key = useKey({ deviceId: row.device_id, seq: row.seq });
      holder.set(key, first.get(key)!.txId);
    }
    const held = claims.filter((c) => !holder.has(useKey(c)));
    if (held.length > 0) {
      const { rows } = await tx.query<{ device_id: string; seq: number; tx_id: string }>(
        `SELECT s.device_id, s.seq, s.tx_id FROM device_seqs s
           JOIN unnest($1::text[], $2::bigint[]) AS c(device_id, seq) ON c.device_id = s.device_id AND c.seq = s.seq`,
        [held.map((c) => c.deviceId), held.map((c) => c.seq)],
      );
      for (const row of rows) holder.set(useKey({ deviceId: row.device_id, seq: row.seq }), row.tx_id);
    }
    return uses.map((use) => {
      const claimedBy = holder.get(useKey(use))!;
      return claimedBy === use.txId ? { ok: true } : { ok: false, claimedBy };
    });
  }

  /**
   * Advances the contiguous mark of each device in `settled` over what is settled (under its device_sync row lock,
   * taken in device order), in `tx`; reports per device the mark and the first remaining gap, if any. `settled` are
   * the (device, seq) this batch claimed successfully (claimAll: all settled now). A device with nothing settled
   * past its mark before (settled_max, migration 021) has its mark moved over this batch's numbers here; the others
   * are walked in device_seqs (walk). One UPDATE then writes every mark. Two statements in the common case, two more
   * the first time the hub sees a device.
   */
  async advanceAll(tx: Queryable, settled: ReadonlyArray<{ deviceId: string; seq: number }>): Promise<Map<string, SettledSequence>> {
    const seqsOf = new Map<string, number[]>();
    for (const { deviceId, seq } of settled) {
      const seqs = seqsOf.get(deviceId);
      if (seqs) seqs.push(seq);
      else seqsOf.set(deviceId, [seq]);
    }
    const devices = [...seqsOf.keys()].sort();
    if (devices.length === 0) return new Map();
    const lock = async (ids: string[]) =>
      (
        await tx.query<{ device_id: string; contiguous_seq: number; settled_max: number }>(
          `SELECT d.device_id, d.contiguous_seq, d.settled_max FROM unnest($1::text[]) AS wanted(device_id)
             JOIN device_sync d ON d.device_id = wanted.device_id ORDER BY d.device_id FOR UPDATE OF d`,
          [ids],
        )
      ).rows;
    const marks = await lock(devices);
    const known = new Set(marks.map((row) => row.device_id));
    const unknown = devices.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      await tx.query('INSERT INTO device_sync (device_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [unknown]);
      marks.push(...(await lock(unknown)));
    }
    const result = new Map<string, SettledSequence>();
    const islands: string[] = [];
    for (const { device_id: deviceId, contiguous_seq: mark, settled_max: settledMax } of marks) {
      if (settledMax > mark) islands.push(deviceId);
      else result.set(deviceId, runOver(mark, seqsOf.get(deviceId)!));
    }
    if (islands.length > 0) for (const [deviceId, walked] of await walk(tx, islands)) result.set(deviceId, walked);
    await tx.query(
      `UPDATE device_sync d SET contiguous_seq = greatest(d.contiguous_seq, v.contiguous), settled_max = greatest(d.settled_max, v.settled_max), updated_at = now()
         FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(device_id, contiguous, settled_max) WHERE d.device_id = v.device_id`,
      [devices, devices.map((id) => result.get(id)!.contiguous), devices.map((id) => Math.max(...seqsOf.get(id)!))],
    );
    return result;
  }

  async contiguous(deviceId: string): Promise<number> {
    const { rows } = await this.db.query<{ contiguous_seq: number }>('SELECT contiguous_seq FROM device_sync WHERE device_id = $1', [
      deviceId,
    ]);
    return rows[0]?.contiguous_seq ?? 0;
  }
}

/**
 * A device's mark when nothing past it was settled before this batch: up over the unbroken run of the batch's own
 * numbers right above it, and the hole before the first number past that run, if any.
 */
function runOver(mark: number, seqs: readonly number[]): SettledSequence {
  const above = new Set(seqs.filter((seq) => seq > mark));
  let contiguous = mark;
  while (above.has(contiguous + 1)) contiguous++;
  const next = Math.min(...[...above].filter((seq) => seq > contiguous));
  return Number.isFinite(next) ? { contiguous, gap: { fromSeq: contiguous + 1, toSeq: next - 1 } } : { contiguous };
}

/**
 * Where each device's mark (its row locked by the caller) can move: up over the unbroken run of settled numbers right
 * above it, and the first settled number past the hole that ends the run (gaps and islands: in the run, seq − mark
 * equals the row's rank). A new statement after the locks, so it sees every batch committed before them. Driven by
 * the device ids given, each device's numbers read in a lateral subquery (a range of the primary key): a join over
 * all of device_sync or device_seqs may be planned as a scan of the whole table, which a prepared statement then
 * keeps as the table grows.
 */
async function walk(tx: Queryable, deviceIds: readonly string[]): Promise<Map<string, SettledSequence>> {
  const { rows } = await tx.query<{ device_id: string; contiguous: number; next_settled: number | null }>(
    `SELECT d.device_id, coalesce(w.run_to, d.contiguous_seq) AS contiguous, w.next_settled
       FROM unnest($1::text[]) AS wanted(device_id)
       JOIN device_sync d ON d.device_id = wanted.device_id
      CROSS JOIN LATERAL (
        SELECT max(seq) FILTER (WHERE hole = 0) AS run_to, min(seq) FILTER (WHERE hole > 0) AS next_settled
          FROM (SELECT s.seq, s.seq - d.contiguous_seq - row_number() OVER (ORDER BY s.seq) AS hole
                  FROM device_seqs s WHERE s.device_id = d.device_id AND s.seq > d.contiguous_seq AND s.settled) AS above) AS w`,
    [deviceIds],
  );
  return new Map(
    rows.map(({ device_id: deviceId, contiguous, next_settled: next }) => [
      deviceId,
      next === null ? { contiguous } : { contiguous, gap: { fromSeq: contiguous + 1, toSeq: next - 1 } },
    ]),
  );
}
