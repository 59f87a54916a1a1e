-- The membership program (issue 5): versioned rule sets, member tiers and their history, daily check-ins,
-- referrals and points budgets. Every row an operator or a job causes carries actor and reason.

-- Published rule sets. A version is immutable once written (trigger below): a device transaction names the
-- version it was evaluated with, and the hub re-evaluates it with exactly those rules.
CREATE TABLE program_rule_sets (
  version integer PRIMARY KEY CHECK (version >= 1),
  rules jsonb NOT NULL,
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  published_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION program_rule_sets_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'program rule sets are immutable; publish a new version instead' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER program_rule_sets_immutable BEFORE UPDATE OR DELETE ON program_rule_sets
  FOR EACH STATEMENT EXECUTE FUNCTION program_rule_sets_immutable();

-- A member's current tier. No row = the lowest tier since registration.
CREATE TABLE member_tiers (
  member_id uuid PRIMARY KEY REFERENCES members (id),
  tier text NOT NULL CHECK (length(tier) BETWEEN 1 AND 32),
  -- When the tier was reached or last confirmed by a review; the retention window runs from here.
  since timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_tiers_tier ON member_tiers (tier, member_id);

-- Every tier change and confirmation, with the spend that justified it. Append-only.
CREATE TABLE member_tier_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id uuid NOT NULL REFERENCES members (id),
  from_tier text NOT NULL,
  to_tier text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('upgraded', 'confirmed', 'downgraded')),
  window_spend_fen bigint NOT NULL,
  rules_version integer NOT NULL REFERENCES program_rule_sets (version),
  review_run_id uuid,
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_tier_changes_member ON member_tier_changes (member_id, id);

-- Spend paid outside stored value (cash or bank card at a POS checkout) that counts towards tiers; stored-value
-- spend is read from the ledger itself. A refunded transaction (ledger_refunds) stops counting, row and postings.
CREATE TABLE qualifying_spend (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id uuid NOT NULL REFERENCES members (id),
  tx_id uuid NOT NULL REFERENCES ledger_transactions (id),
  amount_fen bigint NOT NULL CHECK (amount_fen > 0),
  at timestamptz NOT NULL,
  UNIQUE (tx_id, member_id)
);
CREATE INDEX qualifying_spend_member ON qualifying_spend (member_id, at);

-- Tier review runs (the periodic downgrade job) and their counts.
CREATE TABLE tier_review_runs (
  id uuid PRIMARY KEY,
  as_of timestamptz NOT NULL,
  rules_version integer NOT NULL REFERENCES program_rule_sets (version),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  reviewed integer NOT NULL DEFAULT 0,
  confirmed integer NOT NULL DEFAULT 0,
  retained integer NOT NULL DEFAULT 0,
  downgraded integer NOT NULL DEFAULT 0,
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200)
);

-- One check-in per member per local day (the primary key makes "once" a database fact).
CREATE TABLE check_ins (
  member_id uuid NOT NULL REFERENCES members (id),
  local_date date NOT NULL,
  streak integer NOT NULL CHECK (streak >= 1),
  points integer NOT NULL CHECK (points >= 0),
  store_id text REFERENCES stores (id),
  -- NULL when the budget left nothing to award (the check-in still counts for the streak).
  tx_id uuid REFERENCES ledger_transactions (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (member_id, local_date)
);

-- Who referred whom; one row per referee, so a member is referred — and rewarded — at most once.
CREATE TABLE referrals (
  referee_id uuid PRIMARY KEY REFERENCES members (id),
  referrer_id uuid NOT NULL REFERENCES members (id),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  referrer_tx_id uuid REFERENCES ledger_transactions (id),
  referee_tx_id uuid REFERENCES ledger_transactions (id),
  rewarded_at timestamptz,
  CHECK (referee_id <> referrer_id)
);
CREATE INDEX referrals_referrer ON referrals (referrer_id);

-- Points used against each budget cap per period. The guarded upsert (used + n <= limit) is the atomic check.
CREATE TABLE points_budget_usage (
  scope text NOT NULL CHECK (scope IN ('member', 'store')),
  subject_id text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('earn', 'spend')),
  period text NOT NULL CHECK (period IN ('day', 'month')),
  period_key text NOT NULL,
  used bigint NOT NULL CHECK (used >= 0),
  PRIMARY KEY (scope, subject_id, direction, period, period_key)
);

-- Alerts raised when a budget's usage reaches a configured fill level; once per level per period.
CREATE TABLE points_budget_alerts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope text NOT NULL CHECK (scope IN ('member', 'store')),
  subject_id text NOT NULL,
  -- The store the usage happened at (for a member budget too), so store operators see their own alerts.
  store_id text REFERENCES stores (id),
  direction text NOT NULL CHECK (direction IN ('earn', 'spend')),
  period text NOT NULL CHECK (period IN ('day', 'month')),
  period_key text NOT NULL,
  threshold_percent integer NOT NULL CHECK (threshold_percent BETWEEN 1 AND 100),
  used bigint NOT NULL,
  limit_points bigint NOT NULL,
  tx_id uuid REFERENCES ledger_transactions (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope, subject_id, direction, period, period_key, threshold_percent)
);
CREATE INDEX points_budget_alerts_recent ON points_budget_alerts (created_at DESC, id DESC);
