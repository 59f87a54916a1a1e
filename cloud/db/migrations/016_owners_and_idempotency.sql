-- Every ledger transaction names the module that owns it, and a refund is dispatched to that module's reverser
-- inside the refund's database transaction (cloud/ledger/refunds.ts). Existing transactions get their owner from
-- the tables that recorded what they did beyond the ledger.
ALTER TABLE ledger_transactions ADD COLUMN owner text;
UPDATE ledger_transactions t SET owner = 'checkout' FROM checkouts c WHERE c.tx_id = t.id;
UPDATE ledger_transactions t SET owner = 'catalog' FROM vouchers v WHERE v.ledger_tx_id = t.id AND t.owner IS NULL;
UPDATE ledger_transactions t SET owner = 'catalog' FROM catalog_coupon_redemptions r WHERE r.ledger_tx_id = t.id AND t.owner IS NULL;
UPDATE ledger_transactions t SET owner = 'coupons' FROM coupons c WHERE c.purchase_tx_id = t.id AND t.owner IS NULL;
UPDATE ledger_transactions SET owner = 'cards' WHERE kind = 'card_fee' AND owner IS NULL;
UPDATE ledger_transactions t SET owner = 'program' FROM check_ins c WHERE c.tx_id = t.id AND t.owner IS NULL;
UPDATE ledger_transactions t SET owner = 'program' FROM referrals r WHERE t.id IN (r.referrer_tx_id, r.referee_tx_id) AND t.owner IS NULL;
UPDATE ledger_transactions SET owner = 'ledger' WHERE owner IS NULL;
ALTER TABLE ledger_transactions ALTER COLUMN owner SET NOT NULL;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_owner_check CHECK (owner ~ '^[a-z][a-z-]{1,39}$');

-- The one idempotency mechanism of every module (cloud/ledger/idempotency.ts): a key, the module that used it, a
-- fingerprint of what was asked (a replay must match it) and the first result, returned to every replay.
CREATE TABLE idempotency_keys (
  key text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
  owner text NOT NULL,
  fingerprint text NOT NULL,
  member_id uuid,
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The keys used so far, with the fingerprints the modules compare replays against. A checkout's key also named its
-- ledger transaction, and a card request's its fee: the module's own record goes first, so its replay keeps working.
-- Results take the shape of a posting's (txId, member, outcome) wherever the module reads them that way.
INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result, created_at)
SELECT idempotency_key, 'checkout', request_hash, member_id, jsonb_build_object('outcome', jsonb_build_object('checkoutId', id)), created_at FROM checkouts;
INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result, created_at)
SELECT c.refund_key, 'checkout', 'checkout-refund:' || c.id, c.member_id, jsonb_build_object('checkoutId', c.id), c.refunded_at
  FROM checkouts c WHERE c.refund_key IS NOT NULL AND c.refund_tx_id IS NULL
ON CONFLICT (key) DO NOTHING;
INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result, created_at)
SELECT r.idempotency_key, 'cards', r.payload_hash, r.member_id,
       CASE WHEN t.id IS NULL THEN r.result ELSE jsonb_build_object('txId', t.id, 'member', r.result -> 'member', 'outcome', r.result) END,
       r.created_at
  FROM card_requests r LEFT JOIN ledger_transactions t ON t.idempotency_key = r.idempotency_key
ON CONFLICT (key) DO NOTHING;
INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result, created_at)
SELECT t.idempotency_key, 'catalog', 'redeem:' || t.member_id || ':' || coalesce(v.item_id, r.item_id)::text || ':' || coalesce(t.store_id, ''),
       t.member_id, jsonb_build_object('txId', t.id, 'member', t.result -> 'member'), t.created_at
  FROM ledger_transactions t
  LEFT JOIN vouchers v ON v.ledger_tx_id = t.id
  LEFT JOIN catalog_coupon_redemptions r ON r.ledger_tx_id = t.id
 WHERE t.owner = 'catalog'
ON CONFLICT (key) DO NOTHING;
INSERT INTO idempotency_keys (key, owner, fingerprint, member_id, result, created_at)
SELECT idempotency_key, CASE WHEN owner IN ('checkout', 'catalog', 'cards') THEN 'ledger' ELSE owner END, payload_hash, member_id, result, created_at
  FROM ledger_transactions
ON CONFLICT (key) DO NOTHING;

-- Replaced by idempotency_keys.
ALTER TABLE ledger_transactions DROP COLUMN payload_hash;
ALTER TABLE ledger_transactions DROP COLUMN result;
DROP TABLE card_requests;
ALTER TABLE checkouts DROP COLUMN request_hash;
ALTER TABLE checkouts DROP COLUMN refund_key;

-- A checkout's qualifying spend stops counting towards the tier when the checkout is refunded: the checkout
-- module's refund says so on the row (the program no longer reads other modules' tables to find out).
ALTER TABLE qualifying_spend ADD COLUMN cancelled_at timestamptz;
UPDATE qualifying_spend s SET cancelled_at = c.refunded_at FROM checkouts c WHERE c.id = s.checkout_id AND c.refunded_at IS NOT NULL;
UPDATE qualifying_spend s SET cancelled_at = now()
 WHERE s.cancelled_at IS NULL AND EXISTS (SELECT 1 FROM ledger_refunds r WHERE r.original_tx_id = s.tx_id);
