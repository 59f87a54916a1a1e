-- ledger_transactions_device (001) indexed each device transaction by (device_id, device_seq), but no query reads
-- it: a device's numbers are looked up in device_seqs (005), which holds the same pairs with their claims. Every
-- device transaction still paid for the entry, on the ingest's hot path (issue 10).
DROP INDEX ledger_transactions_device;
