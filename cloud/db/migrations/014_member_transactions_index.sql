-- A member's transactions by time: the tier window spend and the program notices shown at every card tap read
-- them per member (cloud/program/tiers.ts windowSpendFen), which without this scans every transaction.
CREATE INDEX ledger_transactions_member_time ON ledger_transactions (member_id, created_at);
