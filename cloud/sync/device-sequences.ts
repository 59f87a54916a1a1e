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

/** Rows read per step when advancing the contiguous mark (a device that replays a long backlog). */
const WALK_BATCH = 500;

/**
 * Per-device sequence tracking (table device_seqs / device_sync, migration 005). A transaction first claims its
 * (device, seq); a different txId already holding it is a conflict and must post nothing. Once the hub has
 * given its final answer the sequence is settled, and the contiguous mark moves up over every settled number.
 */
export class DeviceSequences {
  constructor(private readonly db: Database) {}

  /** Claims `seq` for `txId`; claiming it again with the same txId (a replay) is fine. */
  async claim(deviceId: string, seq: number, txId: string): Promise<SequenceClaim> {
    await this.db.query('INSERT INTO device_seqs (device_id, seq, tx_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      deviceId,
      seq,
      txId,
    ]);
    const { rows } = await this.db.query<{ tx_id: string }>('SELECT tx_id FROM device_seqs WHERE device_id = $1 AND seq = $2', [
      deviceId,
      seq,
    ]);
    const claimedBy = rows[0]!.tx_id;
    return claimedBy === txId ? { ok: true } : { ok: false, claimedBy };
  }

  /** Marks `seq` settled and advances the contiguous mark; reports the first remaining gap, if any. */
  async settle(deviceId: string, seq: number): Promise<SettledSequence> {
    return this.db.transaction(async (tx) => {
      await tx.query('UPDATE device_seqs SET settled = true WHERE device_id = $1 AND seq = $2', [deviceId, seq]);
      await tx.query('INSERT INTO device_sync (device_id) VALUES ($1) ON CONFLICT DO NOTHING', [deviceId]);
      const locked = await tx.query<{ contiguous_seq: number }>(
        'SELECT contiguous_seq FROM device_sync WHERE device_id = $1 FOR UPDATE',
        [deviceId],
      );
      const { contiguous, nextSettled } = await walk(tx, deviceId, locked.rows[0]!.contiguous_seq);
      await tx.query('UPDATE device_sync SET contiguous_seq = $2, updated_at = now() WHERE device_id = $1', [deviceId, contiguous]);
      return nextSettled === undefined ? { contiguous } : { contiguous, gap: { fromSeq: contiguous + 1, toSeq: nextSettled - 1 } };
    });
  }

  async contiguous(deviceId: string): Promise<number> {
    const { rows } = await this.db.query<{ contiguous_seq: number }>('SELECT contiguous_seq FROM device_sync WHERE device_id = $1', [
      deviceId,
    ]);
    return rows[0]?.contiguous_seq ?? 0;
  }
}

/** Moves up from `from` while the next number is settled; also returns the first settled number past the hole. */
async function walk(tx: Queryable, deviceId: string, from: number): Promise<{ contiguous: number; nextSettled?: number }> {
  let contiguous = from;
  for (;;) {
    const { rows } = await tx.query<{ seq: number }>(
      'SELECT seq FROM device_seqs WHERE device_id = $1 AND seq > $2 AND settled ORDER BY seq LIMIT $3',
      [deviceId, contiguous, WALK_BATCH],
    );
    for (const { seq } of rows) {
      if (seq !== contiguous + 1) return { contiguous, nextSettled: seq };
      contiguous = seq;
    }
    if (rows.length < WALK_BATCH) return { contiguous };
  }
}
