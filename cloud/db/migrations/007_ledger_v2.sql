-- Ledger v2 (issue 5): the new transaction and account kinds, points kept in lots for expiry, and refunds
-- linked to the transaction they reverse.

-- The kind lists follow cloud/ledger/posting.ts (TRANSACTION_KINDS) and cloud/ledger/accounts.ts. The CHECKs
-- were declared inline in 001, so PostgreSQL named them <table>_<column>_check.
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (
  'cash_topup', 'stored_value_payment', 'points_adjustment', 'points_redemption',
  'points_award', 'points_expiry', 'checkout', 'refund', 'card_fee'));
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN (
  'stored_principal', 'stored_bonus', 'points',
  'cash_received', 'stored_value_spent', 'points_issued', 'points_redeemed',
  'bonus_issued', 'points_expired', 'fees_received'));

-- One lot per points credit. The member's points balance always equals the sum of their lots' remaining
-- (the ledger checks it in every transaction that moves points). Lots change only inside ledger
-- transactions, which record actor and reason; award_tx_id / points_lot_moves.tx_id lead to them.
CREATE TABLE points_lots (
  id uuid PRIMARY KEY,
  -- Award order: breaks ties between lots expiring at the same instant.
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  member_id uuid NOT NULL REFERENCES members (id),
  -- The transaction that credited the points; NULL only for the opening lots this migration creates.
  award_tx_id uuid REFERENCES ledger_transactions (id),
  awarded_at timestamptz NOT NULL DEFAULT now(),
  points bigint NOT NULL CHECK (points > 0),
  remaining bigint NOT NULL CHECK (remaining >= 0 AND remaining <= points),
  -- NULL = never expires.
  expires_at timestamptz
);
CREATE INDEX points_lots_member_open ON points_lots (member_id, expires_at, seq) WHERE remaining > 0;
CREATE INDEX points_lots_expiring ON points_lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX points_lots_award_tx ON points_lots (award_tx_id) WHERE award_tx_id IS NOT NULL;

-- Every change to a lot after its creation: negative when a debit, an expiry or a refund of the award takes
-- points, positive when a refund gives back what its original took. So lot.remaining = lot.points + the sum
-- of its moves, and a refund can restore exactly the lots its original consumed.
CREATE TABLE points_lot_moves (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id uuid NOT NULL REFERENCES ledger_transactions (id),
  lot_id uuid NOT NULL REFERENCES points_lots (id),
  points bigint NOT NULL CHECK (points <> 0)
);
CREATE INDEX points_lot_moves_tx ON points_lot_moves (tx_id);
CREATE INDEX points_lot_moves_lot ON points_lot_moves (lot_id);

-- Balances from before lots existed become one never-expiring lot each.
INSERT INTO points_lots (id, member_id, points, remaining, expires_at)
SELECT gen_random_uuid(), member_id, balance, balance, NULL
  FROM accounts WHERE kind = 'points' AND member_id IS NOT NULL AND balance > 0;

-- A refund and the transaction it reverses. The primary key on original_tx_id makes "refunded at most once"
-- a database fact: two concurrent refunds of one transaction cannot both commit, on PGlite or PostgreSQL.
CREATE TABLE ledger_refunds (
  original_tx_id uuid PRIMARY KEY REFERENCES ledger_transactions (id),
  refund_tx_id uuid NOT NULL UNIQUE REFERENCES ledger_transactions (id),
  CHECK (original_tx_id <> refund_tx_id)
);
