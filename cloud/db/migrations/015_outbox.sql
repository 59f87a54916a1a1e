-- The hub's durable outbox (cloud/kernel/outbox.ts): what must follow a commit but cannot share its transaction
-- is a row of that transaction, consumed afterwards exactly once (its handler's writes and the row's deletion
-- commit together). A failed attempt leaves the row, with the error and the time of the next attempt.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
