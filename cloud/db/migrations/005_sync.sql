-- Device synchronisation (issue 4): device sequence tracking, which kiosks know which members, and each
-- kiosk's desired versus reported configuration.

-- Every device sequence number the hub has received, with the transaction that claimed it. The primary key
-- makes "same sequence, different transaction" a conflict that the second claimant loses, even when both
-- arrive at once. `settled` once the hub gave its final answer (applied or refused).
CREATE TABLE device_seqs (
  device_id text NOT NULL,
  seq bigint NOT NULL CHECK (seq >= 1),
  tx_id text NOT NULL,
  settled boolean NOT NULL DEFAULT false,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, seq)
);
-- Device transactions applied before this table existed have claimed their sequence numbers too.
INSERT INTO device_seqs (device_id, seq, tx_id, settled)
  SELECT DISTINCT ON (device_id, device_seq) device_id, device_seq, idempotency_key, true
    FROM ledger_transactions WHERE device_id IS NOT NULL
   ORDER BY device_id, device_seq, created_at;

-- Per device, the highest sequence number N such that 1..N are all settled: everything at or below it needs
-- no resend. Advanced under this row's lock.
CREATE TABLE device_sync (
  device_id text PRIMARY KEY,
  contiguous_seq bigint NOT NULL DEFAULT 0 CHECK (contiguous_seq >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which kiosk caches which member under which card, and the member version it was last sent. A member whose
-- version is above it gets a fresh snapshot pushed to that kiosk.
CREATE TABLE device_members (
  device_id text NOT NULL,
  card_uid text NOT NULL,
  member_id uuid NOT NULL REFERENCES members (id),
  known_version integer NOT NULL CHECK (known_version >= 0),
  last_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, card_uid)
);
CREATE INDEX device_members_member ON device_members (member_id);
-- The fan-out looks only at members changed recently.
CREATE INDEX members_updated_at ON members (updated_at);

-- The configuration the hub wants each kiosk to run (versions only grow) and what the kiosk last reported.
CREATE TABLE device_config (
  device_id text PRIMARY KEY,
  desired jsonb NOT NULL,
  desired_version integer NOT NULL CHECK (desired_version >= 1),
  desired_at timestamptz NOT NULL DEFAULT now(),
  reported_status text CHECK (reported_status IN ('applied', 'rejected')),
  reported_version integer CHECK (reported_version >= 1),
  applied_version integer CHECK (applied_version >= 0),
  reported_reason text,
  reported_at timestamptz
);
