-- Double entry checked once per ledger transaction and once per INSERT of postings, instead of once per posting
-- row (issue 10: device transactions are posted in batches, a top-up has up to six postings, and the row trigger
-- of 001 ran two queries for each of them at commit).
--  * postings must leave every transaction they belong to balanced: checked after each INSERT statement, over the
--    transactions it touched (the ledger writes a transaction's postings in one statement);
--  * a ledger transaction must have postings: checked at commit (they come after the transaction row), once per
--    transaction row, with one index probe.
DROP TRIGGER postings_balanced ON postings;
DROP TRIGGER ledger_transactions_balanced ON ledger_transactions;
DROP FUNCTION ledger_assert_balanced();

-- Balance is the postings trigger's: every INSERT of postings leaves the transactions it touched balanced, and
-- postings are append-only (001), so at commit only "has postings" is left to check.
CREATE FUNCTION ledger_transaction_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM postings WHERE tx_id = NEW.id) THEN
    RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_transactions_have_postings AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_has_postings();

CREATE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT p.tx_id, p.asset, sum(p.amount) AS total INTO unbalanced
    FROM postings p WHERE p.tx_id IN (SELECT DISTINCT tx_id FROM inserted)
   GROUP BY p.tx_id, p.asset HAVING sum(p.amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % postings sum to %', unbalanced.tx_id, unbalanced.asset, unbalanced.total
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER postings_balanced AFTER INSERT ON postings
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION postings_balanced();
