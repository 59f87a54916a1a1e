-- Each device's highest settled sequence number, next to its contiguous mark (issue 10). While it is not above the
-- mark, nothing is settled past the mark but what the current batch settles, so the batch moves the mark itself,
-- in one UPDATE for all its devices. Only a device with numbers settled past a hole (it resent out of order, or a
-- copy was deferred) has its numbers walked in device_seqs, which under the ingest benchmark was the costliest
-- statement of a batch (with its lock, 60 µs of PostgreSQL time per transaction).
ALTER TABLE device_sync ADD COLUMN settled_max bigint NOT NULL DEFAULT 0;
UPDATE device_sync d SET settled_max = greatest(
  d.contiguous_seq,
  coalesce((SELECT max(s.seq) FROM device_seqs s WHERE s.device_id = d.device_id AND s.settled), 0));
