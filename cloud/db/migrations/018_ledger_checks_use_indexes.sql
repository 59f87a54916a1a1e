-- The two double-entry checks of 017 read postings by tx_id, which the postings_tx index answers in one probe. But
-- plpgsql caches each query's plan for the session, and a plan made while postings was still small (a new hub, a
-- fresh database) is a sequential scan that it keeps as the table grows: measured under the ingest benchmark (issue
-- 10), the "has postings" check then cost 260 µs per ledger transaction on average, half of PostgreSQL's time.
-- Sequential scans are off inside these functions only, so the cached plan is always the index one.
ALTER FUNCTION ledger_transaction_has_postings() SET enable_seqscan = off;
ALTER FUNCTION postings_balanced() SET enable_seqscan = off;
