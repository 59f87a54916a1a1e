-- The 16-digit card number a member card carries (NFC record, magnetic-stripe PAN), so that a swipe that
-- yields only the number finds the member. Nullable: cards enrolled before card numbers have none.
-- UNIQUE (which also indexes the lookup) because one number must lead to exactly one card; NULLs never collide.
ALTER TABLE cards ADD COLUMN card_number text UNIQUE CHECK (card_number ~ '^[0-9]{16}$');
