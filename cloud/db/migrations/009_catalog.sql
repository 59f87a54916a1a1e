-- The redemption catalog (issue 5): items members redeem for points (optionally points + stored value), stock
-- chain-wide and per store, and the vouchers a redemption issues and a cashier writes off (核销).
-- The rules (price, tiers, limit, window) are checked by shared/rules/redemption.ts; the database guards what
-- concurrency could break: stock never below zero, a voucher code unique, a voucher written off at most once.

CREATE TABLE catalog_items (
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('goods', 'service', 'coupon', 'gift_card')),
  name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 64),
  name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 64),
  -- Price: a fixed number of points, or a value in fen converted at the member's tier ratio; plus cash_fen
  -- paid from stored value in the same ledger transaction.
  price_points integer CHECK (price_points > 0),
  price_value_fen bigint CHECK (price_value_fen > 0),
  cash_fen bigint NOT NULL DEFAULT 0 CHECK (cash_fen >= 0),
  -- Tier ids allowed to redeem; NULL = every tier.
  allowed_tiers text[],
  limit_count integer CHECK (limit_count > 0),
  limit_period text CHECK (limit_period IN ('day', 'month', 'year', 'lifetime')),
  valid_from timestamptz,
  valid_until timestamptz,
  voucher_valid_days integer NOT NULL CHECK (voucher_valid_days BETWEEN 1 AND 3660),
  active boolean NOT NULL DEFAULT true,
  -- Units left chain-wide; NULL = unlimited (a service). Taken with a guarded UPDATE (stock > 0).
  stock integer CHECK (stock >= 0),
  -- When true the item is held in stores (catalog_store_stock) and redeemable only where a store has a row.
  per_store_stock boolean NOT NULL DEFAULT false,
  -- Bumped by every change to the definition (not stock), so a redemption priced against an older one is refused.
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((price_points IS NULL) <> (price_value_fen IS NULL)),
  CHECK ((limit_count IS NULL) = (limit_period IS NULL)),
  CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);
CREATE INDEX catalog_items_active ON catalog_items (active, created_at);

CREATE TABLE catalog_store_stock (
  item_id uuid NOT NULL REFERENCES catalog_items (id),
  store_id text NOT NULL REFERENCES stores (id),
  stock integer NOT NULL CHECK (stock >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (item_id, store_id)
);

-- Every change an operator makes to an item or its stock: who, why, and the item before and after.
CREATE TABLE catalog_item_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  item_id uuid NOT NULL REFERENCES catalog_items (id),
  action text NOT NULL CHECK (action IN ('created', 'updated', 'stock_adjusted')),
  store_id text REFERENCES stores (id),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  before jsonb,
  after jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_item_audit_item ON catalog_item_audit (item_id, id);

CREATE FUNCTION catalog_item_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'catalog_item_audit is append-only' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER catalog_item_audit_append_only BEFORE UPDATE OR DELETE ON catalog_item_audit
  FOR EACH STATEMENT EXECUTE FUNCTION catalog_item_audit_append_only();

CREATE TABLE vouchers (
  id uuid PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code ~ '^[2-9A-HJ-NP-Z]{16}$'),
  item_id uuid NOT NULL REFERENCES catalog_items (id),
  member_id uuid NOT NULL REFERENCES members (id),
  -- Where it was redeemed (its stock was taken there when per_store_stock) and where it may be written off:
  -- that store for per-store items, NULL = any store for chain-wide ones.
  redeemed_store_id text NOT NULL REFERENCES stores (id),
  store_id text REFERENCES stores (id),
  status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'written_off', 'expired', 'refunded')),
  -- The points_redemption transaction that paid for it (actor and reason are there); one voucher per redemption.
  ledger_tx_id uuid NOT NULL UNIQUE REFERENCES ledger_transactions (id),
  points integer NOT NULL CHECK (points > 0),
  cash_fen bigint NOT NULL CHECK (cash_fen >= 0),
  -- The member's limit period the redemption counts in (shared/rules/redemption.ts limitPeriodKey).
  period_key text NOT NULL,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL CHECK (expires_at > issued_at),
  -- The signed text (QR code) as issued, so a reprint or a replayed request shows the very same voucher.
  signed_text text NOT NULL,
  written_off_at timestamptz,
  written_off_by_type text CHECK (written_off_by_type IN ('member', 'operator', 'device', 'system')),
  written_off_by_id text,
  written_off_store_id text REFERENCES stores (id),
  refund_tx_id uuid UNIQUE REFERENCES ledger_transactions (id),
  CHECK ((status = 'written_off') = (written_off_at IS NOT NULL AND written_off_by_type IS NOT NULL
    AND written_off_by_id IS NOT NULL AND written_off_store_id IS NOT NULL)),
  CHECK ((status = 'refunded') = (refund_tx_id IS NOT NULL))
);
-- The per-member limit counts live vouchers of one item in one period.
CREATE INDEX vouchers_member_limit ON vouchers (member_id, item_id, period_key) WHERE status <> 'refunded';
CREATE INDEX vouchers_member ON vouchers (member_id, issued_at DESC);
CREATE INDEX vouchers_expiring ON vouchers (expires_at) WHERE status = 'issued';

-- What happened to each voucher after it was issued, with who did it, where and why.
CREATE TABLE voucher_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  voucher_id uuid NOT NULL REFERENCES vouchers (id),
  event text NOT NULL CHECK (event IN ('issued', 'written_off', 'expired', 'refunded')),
  store_id text REFERENCES stores (id),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX voucher_events_voucher ON voucher_events (voucher_id, id);
