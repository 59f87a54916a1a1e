-- Card types and lifecycle (issue 5; rules in shared/rules/cards.ts). Balances stay on the member, so a
-- replacement card, and every supplementary card, spends the same accounts; only the card rows change.

ALTER TABLE cards
  ADD COLUMN type text NOT NULL DEFAULT 'personal' CHECK (type IN ('personal', 'supplementary', 'group', 'vip')),
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lost', 'frozen', 'cancelled', 'replaced')),
  -- A supplementary card's primary: a card of the same member (the one whose balances it spends).
  ADD COLUMN primary_uid text REFERENCES cards (uid),
  -- Who carries the card when it is not the member (a supplementary card's holder).
  ADD COLUMN holder_name text CHECK (length(holder_name) BETWEEN 1 AND 64),
  -- Per-day cap on stored value spent with a supplementary card (local day of the store); NULL = no cap.
  ADD COLUMN daily_limit_fen bigint CHECK (daily_limit_fen >= 0),
  -- The card that replaced this one: set exactly when status = 'replaced'.
  ADD COLUMN replaced_by_uid text UNIQUE REFERENCES cards (uid),
  ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT cards_supplementary_has_primary CHECK ((type = 'supplementary') = (primary_uid IS NOT NULL)),
  ADD CONSTRAINT cards_daily_limit_only_supplementary CHECK (daily_limit_fen IS NULL OR type = 'supplementary'),
  ADD CONSTRAINT cards_replaced_has_successor CHECK ((status = 'replaced') = (replaced_by_uid IS NOT NULL));
-- Existing cards are personal and active (the defaults); their status dates from their binding.
UPDATE cards SET status_changed_at = bound_at;
CREATE INDEX cards_primary ON cards (primary_uid) WHERE primary_uid IS NOT NULL;

-- Every lifecycle change of a card, with who did it and why. Append-only, like the ledger.
CREATE TABLE card_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  card_uid text NOT NULL REFERENCES cards (uid),
  member_id uuid NOT NULL REFERENCES members (id),
  -- issue: a card created by a replacement or as a supplementary card; relink: a supplementary card moved to
  -- its primary's replacement. The others are the actions of shared/rules/cards.ts.
  action text NOT NULL CHECK (action IN (
    'issue', 'report_loss', 'cancel_loss', 'freeze', 'unfreeze', 'replace', 'cancel', 'relink')),
  from_status text CHECK (from_status IN ('active', 'lost', 'frozen', 'cancelled', 'replaced')),
  to_status text NOT NULL CHECK (to_status IN ('active', 'lost', 'frozen', 'cancelled', 'replaced')),
  -- The other card involved: the replacement (replace), the replaced card (issue by replacement), the
  -- primary (issue of a supplementary card, relink).
  related_uid text REFERENCES cards (uid),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX card_events_card ON card_events (card_uid, id);

CREATE FUNCTION card_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'card_events is append-only' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER card_events_append_only BEFORE UPDATE OR DELETE ON card_events
  FOR EACH STATEMENT EXECUTE FUNCTION card_events_append_only();

-- Idempotency of card requests, like ledger_transactions: a retried request returns the first result.
CREATE TABLE card_requests (
  idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 8 AND 100),
  payload_hash text NOT NULL,
  member_id uuid NOT NULL REFERENCES members (id),
  result jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Card fees, charged or waived. A fee is due once per card and period: 'once' for joining and replacement
-- fees (a card is replaced at most once), the local year ('2026') for annual fees. A charged fee is exactly
-- one 'card_fee' ledger transaction; a waived or free one has none.
CREATE TABLE card_fees (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  card_uid text NOT NULL REFERENCES cards (uid),
  member_id uuid NOT NULL REFERENCES members (id),
  kind text NOT NULL CHECK (kind IN ('joining', 'annual', 'replacement')),
  period text NOT NULL CHECK (period = 'once' OR period ~ '^[0-9]{4}$'),
  scheduled_fen bigint NOT NULL CHECK (scheduled_fen >= 0),
  amount_fen bigint NOT NULL CHECK (amount_fen >= 0 AND amount_fen <= scheduled_fen),
  waived_by text CHECK (waived_by IN ('vip_card', 'defective_card')),
  tx_id uuid UNIQUE REFERENCES ledger_transactions (id),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (card_uid, kind, period),
  CHECK ((amount_fen > 0) = (tx_id IS NOT NULL)),
  CHECK (waived_by IS NULL OR amount_fen = 0)
);
CREATE INDEX card_fees_member ON card_fees (member_id, id);

-- Stored value spent with a card that has a daily limit, per local day: what the limit is checked against.
-- Written by the ledger in the payment's own transaction.
CREATE TABLE card_spending (
  tx_id uuid PRIMARY KEY REFERENCES ledger_transactions (id),
  card_uid text NOT NULL REFERENCES cards (uid),
  local_day date NOT NULL,
  amount_fen bigint NOT NULL CHECK (amount_fen > 0)
);
CREATE INDEX card_spending_day ON card_spending (card_uid, local_day);
