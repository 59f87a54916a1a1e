-- Two gaps between checkout and the program (issue 5 follow-up):
-- 1. a refund gives back the points budget its original used up;
-- 2. every checkout's money counts towards the member's tier, also a cash-only sale that posts no ledger
--    transaction, at the sale's instant.

-- What each ledger transaction took from each budget counter, in the period it counted in. A refund releases
-- exactly these rows: the same counters and periods (not the refund's period, not today's caps), once.
CREATE TABLE points_budget_consumptions (
  tx_id uuid NOT NULL REFERENCES ledger_transactions (id),
  scope text NOT NULL,
  subject_id text NOT NULL,
  direction text NOT NULL,
  period text NOT NULL,
  period_key text NOT NULL,
  points bigint NOT NULL CHECK (points > 0),
  -- The refund that gave these points back to the budget; NULL while they still count.
  released_by_tx_id uuid REFERENCES ledger_transactions (id),
  PRIMARY KEY (tx_id, scope, direction, period),
  FOREIGN KEY (scope, subject_id, direction, period, period_key) REFERENCES points_budget_usage (scope, subject_id, direction, period, period_key)
);

-- The release runs in the refund's own database transaction, whichever path refunds (a checkout refund, the
-- ledger's POST /transactions/:id/refunds for a points-exchange coupon, …): every refund writes its
-- ledger_refunds row (one per original, primary key), and `released_by_tx_id IS NULL` makes it once per row.
-- A counter never goes below 0 (it cannot: it holds at least what is released from it; greatest() is a guard).
CREATE FUNCTION release_points_budget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH released AS (
    UPDATE points_budget_consumptions SET released_by_tx_id = NEW.refund_tx_id
     WHERE tx_id = NEW.original_tx_id AND released_by_tx_id IS NULL
     RETURNING scope, subject_id, direction, period, period_key, points
  )
  UPDATE points_budget_usage u SET used = greatest(u.used - r.points, 0)
    FROM released r
   WHERE (u.scope, u.subject_id, u.direction, u.period, u.period_key) = (r.scope, r.subject_id, r.direction, r.period, r.period_key);
  RETURN NULL;
END
$$;
CREATE TRIGGER ledger_refunds_release_points_budget AFTER INSERT ON ledger_refunds
  FOR EACH ROW EXECUTE FUNCTION release_points_budget();

-- A checkout's qualifying spend is all the money paid at it (stored value + cash), recorded at the sale's
-- instant and hung on the checkout (a cash-only sale has no ledger transaction); the tier code reads the
-- ledger only for stored-value payments outside checkout. tx_id stays for a ledger refund of the checkout's
-- transaction. The spend stops counting when either is refunded.
ALTER TABLE qualifying_spend ALTER COLUMN tx_id DROP NOT NULL;
ALTER TABLE qualifying_spend ADD COLUMN checkout_id uuid UNIQUE REFERENCES checkouts (id);
ALTER TABLE qualifying_spend ADD CONSTRAINT qualifying_spend_has_purchase CHECK (tx_id IS NOT NULL OR checkout_id IS NOT NULL);

-- Existing sales: the cash rows so far become the sale's whole money, and sales without a row (cash-only
-- ones that posted nothing, stored value only) get one. A refunded sale is excluded when read.
UPDATE qualifying_spend s SET checkout_id = c.id, amount_fen = (c.payment ->> 'moneyFen')::bigint
  FROM checkouts c WHERE c.tx_id = s.tx_id AND c.member_id = s.member_id;
INSERT INTO qualifying_spend (member_id, tx_id, checkout_id, amount_fen, at)
SELECT c.member_id, c.tx_id, c.id, (c.payment ->> 'moneyFen')::bigint, c.occurred_at
  FROM checkouts c
 WHERE (c.payment ->> 'moneyFen')::bigint > 0 AND NOT EXISTS (SELECT 1 FROM qualifying_spend s WHERE s.checkout_id = c.id);
