-- A posting's transaction and account, and a ledger transaction's member, were checked by foreign keys: a row
-- trigger per reference, each a query that also takes a KEY SHARE lock on the row it finds — three per posted
-- top-up and posting pair. Under the ingest benchmark of issue 10 (top-ups written in batches) they were a sixth
-- of PostgreSQL's time, and more on PGlite, where each is a call through the WASM backend's SPI. Now one query per
-- INSERT statement checks them for all the rows it adds, in a statement trigger beside the balance check of 019.
-- A referenced row must be visible to the inserting transaction, as a foreign key requires.
--
-- What the foreign keys also did, keeping a referenced row from going away or changing its key, now holds because
-- those rows are permanent: ledger transactions, accounts and members are never deleted, and their keys never
-- change (postings are append-only, 001, and each one is lasting evidence of all three). Triggers make that a rule.
ALTER TABLE postings DROP CONSTRAINT postings_tx_id_fkey;
ALTER TABLE postings DROP CONSTRAINT postings_account_id_asset_fkey;
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_member_id_fkey;

CREATE FUNCTION postings_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  dangling record;
BEGIN
  -- Two anti-joins, each an index probe per row. One query with two outer joins instead (tried) made the bench's
  -- ledger floor 189 µs per top-up instead of 64–84.
  SELECT i.tx_id INTO dangling FROM inserted i WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = i.tx_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a posting refers to ledger transaction %, which does not exist', dangling.tx_id USING ERRCODE = '23503';
  END IF;
  SELECT i.account_id, i.asset INTO dangling
    FROM inserted i WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = i.account_id AND a.asset = i.asset) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a posting refers to account % in %, which does not exist', dangling.account_id, dangling.asset USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END
$$;
-- As for the checks of 017 (see 018): plans cached while the tables were small must still use their indexes.
ALTER FUNCTION postings_references_exist() SET enable_seqscan = off;
CREATE TRIGGER postings_references_exist AFTER INSERT ON postings
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION postings_references_exist();

CREATE FUNCTION ledger_transactions_member_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  dangling record;
BEGIN
  SELECT i.member_id INTO dangling FROM inserted i WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = i.member_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a ledger transaction refers to member %, who does not exist', dangling.member_id USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END
$$;
ALTER FUNCTION ledger_transactions_member_exists() SET enable_seqscan = off;
CREATE TRIGGER ledger_transactions_member_exists AFTER INSERT ON ledger_transactions
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_transactions_member_exists();

CREATE FUNCTION ledger_rows_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are permanent and keep their keys: the ledger refers to them', TG_TABLE_NAME USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER ledger_transactions_permanent BEFORE DELETE OR UPDATE OF id ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_permanent();
CREATE TRIGGER accounts_permanent BEFORE DELETE OR UPDATE OF id, asset ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_permanent();
CREATE TRIGGER members_permanent BEFORE DELETE OR UPDATE OF id ON members
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_permanent();
