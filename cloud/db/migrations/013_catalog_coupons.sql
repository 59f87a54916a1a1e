-- Catalog items of kind 'coupon' issue a coupon (migration 010) instead of a voucher.
-- A member redeems points for the coupon and uses it at checkout by its code, so there is nothing for a cashier
-- to write off: the redemption issues the coupon in the same ledger transaction, and refunding the redemption
-- voids the coupon (refused once it was used).

-- The template the coupon is issued from. Required for new and edited 'coupon' items (checked by the hub, which
-- also checks the template is active); coupon items created before this migration have none and keep issuing a
-- voucher until an operator edits them, so the database only forbids a template on any other kind.
ALTER TABLE catalog_items ADD COLUMN coupon_template_id uuid REFERENCES coupon_templates (id);
ALTER TABLE catalog_items ADD CONSTRAINT catalog_items_coupon_template_kind CHECK (coupon_template_id IS NULL OR kind = 'coupon');

-- A coupon whose redemption was refunded can never be used again.
ALTER TABLE coupons DROP CONSTRAINT coupons_status_check;
ALTER TABLE coupons ADD CONSTRAINT coupons_status_check CHECK (status IN ('issued', 'used', 'expired', 'voided'));
ALTER TABLE coupon_audit DROP CONSTRAINT coupon_audit_action_check;
ALTER TABLE coupon_audit ADD CONSTRAINT coupon_audit_action_check CHECK (action IN (
  'template_created', 'template_updated', 'issued', 'used', 'restored', 'expired', 'birthday_set', 'voided'));

-- One row per redemption of a coupon item: what the vouchers table records for the other kinds (the member's
-- limit period, the stock to give back, the price paid). Actor and reason are on the ledger transaction and in
-- coupon_audit ('issued', 'voided').
CREATE TABLE catalog_coupon_redemptions (
  -- The points_redemption transaction that paid for it; one coupon per redemption.
  ledger_tx_id uuid PRIMARY KEY REFERENCES ledger_transactions (id),
  coupon_id uuid NOT NULL UNIQUE REFERENCES coupons (id),
  item_id uuid NOT NULL REFERENCES catalog_items (id),
  member_id uuid NOT NULL REFERENCES members (id),
  redeemed_store_id text NOT NULL REFERENCES stores (id),
  -- The store whose stock was taken (items held per store); a refund returns the unit there.
  stock_store_id text REFERENCES stores (id),
  points integer NOT NULL CHECK (points > 0),
  cash_fen bigint NOT NULL CHECK (cash_fen >= 0),
  -- The member's limit period the redemption counts in (shared/rules/redemption.ts limitPeriodKey).
  period_key text NOT NULL,
  issued_at timestamptz NOT NULL,
  refund_tx_id uuid UNIQUE REFERENCES ledger_transactions (id)
);
-- The per-member limit counts live (not refunded) redemptions of one item in one period.
CREATE INDEX catalog_coupon_redemptions_limit ON catalog_coupon_redemptions (member_id, item_id, period_key) WHERE refund_tx_id IS NULL;
