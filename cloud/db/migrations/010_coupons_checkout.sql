-- Coupons (templates, issued coupons) and POS checkouts (issue 5).

-- Birthday for the "birthday this month" segment: month and day only ("MM-DD"), the year is not needed.
ALTER TABLE members ADD COLUMN birth_month_day text CHECK (birth_month_day ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$');

-- A coupon template: the pure CouponTemplate of shared/rules/coupons.ts as JSON (offer, conditions, window,
-- points cost). Operators may edit it or stop issuing it; coupons already issued keep the terms they were
-- issued with (coupons.terms), so an edit never changes a coupon a member already holds.
CREATE TABLE coupon_templates (
  id uuid PRIMARY KEY,
  definition jsonb NOT NULL,
  -- false = no more issues; held coupons stay usable until they expire.
  active boolean NOT NULL DEFAULT true,
  -- Bumped by every edit, so the audit trail says which version a change applied to.
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One coupon in one member's hands.
CREATE TABLE coupons (
  id uuid PRIMARY KEY,
  -- What the member shows at the till; unique chain-wide.
  code text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$'),
  template_id uuid NOT NULL REFERENCES coupon_templates (id),
  member_id uuid NOT NULL REFERENCES members (id),
  -- The template's definition at issue.
  terms jsonb NOT NULL,
  -- Copied from terms for the expiry job's index; NULL = never expires.
  valid_until timestamptz,
  status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'used', 'expired')),
  -- Makes an issue idempotent: a retried request, or a targeted issue run twice, issues nothing new.
  issue_key text NOT NULL UNIQUE CHECK (length(issue_key) BETWEEN 8 AND 200),
  -- The points_redemption transaction that paid for a points-exchange coupon.
  purchase_tx_id uuid REFERENCES ledger_transactions (id),
  issued_at timestamptz NOT NULL DEFAULT now(),
  -- The checkout that used it (set with status 'used', cleared when that checkout is refunded).
  used_in_checkout_id uuid,
  used_at timestamptz,
  CHECK ((status = 'used') = (used_in_checkout_id IS NOT NULL)),
  CHECK ((status = 'used') = (used_at IS NOT NULL))
);
CREATE INDEX coupons_member ON coupons (member_id, status);
CREATE INDEX coupons_expiring ON coupons (valid_until) WHERE status = 'issued' AND valid_until IS NOT NULL;

-- Every change to a template, a coupon or a member's birthday, with who did it and why. Append-only.
CREATE TABLE coupon_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  template_id uuid REFERENCES coupon_templates (id),
  coupon_id uuid REFERENCES coupons (id),
  member_id uuid REFERENCES members (id),
  action text NOT NULL CHECK (action IN (
    'template_created', 'template_updated', 'issued', 'used', 'restored', 'expired', 'birthday_set')),
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (template_id IS NOT NULL OR coupon_id IS NOT NULL OR member_id IS NOT NULL)
);
CREATE INDEX coupon_audit_coupon ON coupon_audit (coupon_id, id);
CREATE INDEX coupon_audit_template ON coupon_audit (template_id, id);

CREATE FUNCTION coupon_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'coupon_audit is append-only' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER coupon_audit_append_only BEFORE UPDATE OR DELETE ON coupon_audit
  FOR EACH STATEMENT EXECUTE FUNCTION coupon_audit_append_only();

-- A POS sale: the basket as sent, its pricing and payment plan as computed, and the ledger transactions
-- that moved value for it. tx_id is NULL for a sale that moved no member value (cash only, no points earned).
CREATE TABLE checkouts (
  id uuid PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 8 AND 100),
  -- sha256 of the request: a retry must match it, anything else under the same key is a conflict.
  request_hash text NOT NULL,
  member_id uuid NOT NULL REFERENCES members (id),
  store_id text NOT NULL REFERENCES stores (id),
  occurred_at timestamptz NOT NULL,
  -- The program rules version the sale was priced with.
  rules_version integer NOT NULL,
  basket jsonb NOT NULL,
  pricing jsonb NOT NULL,
  payment jsonb NOT NULL,
  payable_fen bigint NOT NULL CHECK (payable_fen >= 0),
  points_earned bigint NOT NULL CHECK (points_earned >= 0),
  coupon_id uuid REFERENCES coupons (id),
  tx_id uuid UNIQUE REFERENCES ledger_transactions (id),
  refund_tx_id uuid UNIQUE REFERENCES ledger_transactions (id),
  refunded_at timestamptz,
  refund_key text UNIQUE,
  actor_type text NOT NULL CHECK (actor_type IN ('member', 'operator', 'device', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  refund_actor_type text,
  refund_actor_id text,
  refund_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((refunded_at IS NULL) = (refund_key IS NULL)),
  CHECK ((refunded_at IS NULL) = (refund_reason IS NULL)),
  CHECK ((refunded_at IS NULL) = (refund_actor_id IS NULL)),
  CHECK (refund_actor_type IS NULL OR refund_actor_type IN ('member', 'operator', 'device', 'system')),
  CHECK (refund_tx_id IS NULL OR refunded_at IS NOT NULL)
);
-- "No purchase in the last N days" reads each member's latest checkout.
CREATE INDEX checkouts_member_time ON checkouts (member_id, occurred_at DESC);
ALTER TABLE coupons ADD FOREIGN KEY (used_in_checkout_id) REFERENCES checkouts (id);
