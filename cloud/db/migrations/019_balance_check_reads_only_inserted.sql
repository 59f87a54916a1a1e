-- The double-entry check of 017 re-read every posting of the transactions an INSERT touched (an index probe and a
-- heap fetch per posting, under the ingest benchmark of issue 10 a tenth of PostgreSQL's time). It need not:
-- postings are append-only (001) and every INSERT of postings is checked, so the postings a transaction had
-- before an INSERT already summed to zero per asset, and the transaction stays balanced exactly when the rows this
-- INSERT adds sum to zero per transaction and asset. The check now reads only those rows.
CREATE OR REPLACE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT i.tx_id, i.asset, sum(i.amount) AS total INTO unbalanced
    FROM inserted i
   GROUP BY i.tx_id, i.asset HAVING sum(i.amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % postings sum to %', unbalanced.tx_id, unbalanced.asset, unbalanced.total
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END
$$;
