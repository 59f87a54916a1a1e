-- The chain's organisation (issue 5): one headquarters (implicit: it is the chain itself), regions under it,
-- stores under regions, and the operators who use the hub's REST API, each with one role and one scope.
-- Region and store ids are short codes chosen by HQ (e.g. 'east', 'sh-xuhui'): they appear in settlement
-- reports, device placements and URLs, where a readable code beats a UUID.

CREATE TABLE regions (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stores (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  region_id text NOT NULL REFERENCES regions (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  -- 'direct': owned by the chain (settlement is an internal transfer); 'franchise': a separate business that
  -- is invoiced or paid.
  kind text NOT NULL CHECK (kind IN ('direct', 'franchise')),
  -- IANA zone for the store's local calendar (points expiry at local midnight, daily check-in).
  time_zone text NOT NULL DEFAULT 'Asia/Shanghai' CHECK (length(time_zone) BETWEEN 1 AND 64),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stores_region ON stores (region_id);

-- An operator signs in with a random bearer token shown once at creation; only its sha256 is kept, so a copy
-- of this table lets nobody in. The scope is HQ (no region, no store), one region, or one store.
CREATE TABLE operators (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  role text NOT NULL CHECK (role IN ('admin', 'manager', 'cashier', 'technician')),
  scope_level text NOT NULL CHECK (scope_level IN ('hq', 'region', 'store')),
  region_id text REFERENCES regions (id),
  store_id text REFERENCES stores (id),
  token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  active boolean NOT NULL DEFAULT true,
  -- The HQ admin whose token comes from HUB_ADMIN_TOKEN: at most one, refreshed at every hub start.
  bootstrap boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  deactivated_at timestamptz,
  CHECK (
    (scope_level = 'hq' AND region_id IS NULL AND store_id IS NULL)
    OR (scope_level = 'region' AND region_id IS NOT NULL AND store_id IS NULL)
    OR (scope_level = 'store' AND store_id IS NOT NULL AND region_id IS NULL)
  ),
  CHECK (active = (deactivated_at IS NULL)),
  CHECK (NOT bootstrap OR (scope_level = 'hq' AND role = 'admin'))
);
CREATE UNIQUE INDEX operators_one_bootstrap ON operators (bootstrap) WHERE bootstrap;

-- Every change to the organisation, with who did it and why. Append-only, like the ledger.
CREATE TABLE operator_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor_type text NOT NULL CHECK (actor_type IN ('operator', 'system')),
  actor_id text NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 100),
  action text NOT NULL CHECK (action IN (
    'region_created', 'store_created', 'operator_created', 'operator_deactivated', 'bootstrap_admin_refreshed')),
  subject_id text NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_audit_subject ON operator_audit (subject_id, id);

CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'operator_audit is append-only' USING ERRCODE = '23514';
END
$$;
CREATE TRIGGER operator_audit_append_only BEFORE UPDATE OR DELETE ON operator_audit
  FOR EACH STATEMENT EXECUTE FUNCTION operator_audit_append_only();

-- A member's home store decides which operators may see them. NULL for members registered before stores
-- existed: only HQ-scoped operators can reach those until one is assigned.
ALTER TABLE members ADD COLUMN home_store_id text REFERENCES stores (id);
CREATE INDEX members_home_store ON members (home_store_id);

-- Where a transaction happened, for cross-store settlement. NULL when no store is known (older rows, system jobs).
ALTER TABLE ledger_transactions ADD COLUMN store_id text REFERENCES stores (id);
CREATE INDEX ledger_transactions_store ON ledger_transactions (store_id, created_at);
