-- Members, cards and the double-entry ledger (DESIGN.md decisions 2, 3, 11).
-- Sign convention: an account's balance is the sum of its postings. A member account holds what the chain
-- owes the member and never goes below zero; each system account is the contra side of member movements.

CREATE TABLE members (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  phone text,
  -- Bumped in the same transaction as every change a kiosk could have cached (balances, cards).
  version integer NOT NULL DEFAULT 0 CHECK (version >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  created_by_type text NOT NULL CHECK (created_by_type IN ('member', 'operator', 'device', 'system')),
  created_by_id text NOT NULL
);

CREATE TABLE cards (
  uid text PRIMARY KEY CHECK (uid ~ '^([0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$'),
  member_id uuid NOT NULL REFERENCES members (id),
  bound_at timestamptz NOT NULL DEFAULT now(),
  bound_by_type text NOT NULL CHECK (bound_by_type IN ('member', 'operator', 'device', 'system')),
  bound_by_id text NOT NULL
);
CREATE INDEX cards_member ON cards (member_id, bound_at DESC);

CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN (
    'stored_principal', 'stored_bonus', 'points',
    'cash_received', 'stored_value_spent', 'points_issued', 'points_redeemed')),
  asset text NOT NULL CHECK (asset IN ('CNY', 'POINTS')),
  -- Exactly one owner: a member, or a system code such as 'cash_received:device:K-001'.
  member_id uuid REFERENCES members (id),
  system_code text UNIQUE,
  -- Running balance, kept only on member accounts: that is where the never-negative check must be atomic.
  -- System accounts have none (their balance is the sum of their postings), so the chain-wide hot contra
  -- accounts are never row-locked and concurrent members never queue behind each other.
  balance bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, asset),
  CHECK ((member_id IS NULL) <> (system_code IS NULL)),
  CHECK ((member_id IS NULL) = (balance IS NULL)),
  CHECK (balance >= 0)
);
CREATE UNIQUE INDEX accounts_member_kind ON accounts (member_id, kind) WHERE member_id IS NOT NULL;

CREATE TABLE ledger_transactions (
  id uuid PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 8 AND 100),
  -- sha256 of the request that first used the key: a replay must match it, anything else is a conflict.
  payload_hash text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('cash_topup', 'stored_value_payment', 'points_adjustment', 'points_redemption')),
  member_id uuid NOT NULL REFERENCES members (id),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  device_id text,
  device_seq bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The response given the first time, returned verbatim to every replay of the key.
  result jsonb,
  CHECK ((device_id IS NULL) = (device_seq IS NULL))
);
CREATE INDEX ledger_transactions_device ON ledger_transactions (device_id, device_seq) WHERE device_id IS NOT NULL;

CREATE TABLE postings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id uuid NOT NULL REFERENCES ledger_transactions (id),
  account_id uuid NOT NULL,
  asset text NOT NULL,
  amount bigint NOT NULL CHECK (amount <> 0),
  -- The member account's running balance right after this posting (NULL on system accounts).
  balance_after bigint,
  -- A posting's asset is always its account's asset.
  FOREIGN KEY (account_id, asset) REFERENCES accounts (id, asset)
);
CREATE INDEX postings_account ON postings (account_id, id);
CREATE INDEX postings_tx ON postings (tx_id);

-- The ledger is append-only: corrections are new transactions, never edits.
CREATE FUNCTION postings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'postings are append-only; record a correcting transaction instead' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
  FOR EACH STATEMENT EXECUTE FUNCTION postings_append_only();

-- Double entry, enforced by the database at commit: every transaction has postings and they sum to zero per asset.
CREATE FUNCTION ledger_assert_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  -- The trigger argument names the column holding the transaction id (plpgsql cannot branch on NEW's fields).
  target uuid := (to_jsonb(NEW) ->> TG_ARGV[0])::uuid;
  unbalanced record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM postings WHERE tx_id = target) THEN
    RAISE EXCEPTION 'ledger transaction % has no postings', target USING ERRCODE = '23514';
  END IF;
  SELECT asset, sum(amount) AS total INTO unbalanced
    FROM postings WHERE tx_id = target GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % postings sum to %', target, unbalanced.asset, unbalanced.total
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_assert_balanced('id');
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_assert_balanced('tx_id');
