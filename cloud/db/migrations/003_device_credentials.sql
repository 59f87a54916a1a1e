-- Per-device MQTT credentials. Only a salted PBKDF2-SHA512 hash of each device's random secret is kept (in
-- Mosquitto's password_file format, so an external broker can use the same rows), and a copy of this table lets
-- nobody connect as a kiosk. One row per device: issuing again replaces the hash (a rotation) and clears a
-- revocation; revoking keeps the row so the refusal can say "revoked" rather than "unknown".
-- The id check mirrors DEVICE_ID_PATTERN: the id is the MQTT username and names the device's topic subtree.
CREATE TABLE device_credentials (
  device_id text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  secret_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  revoked_at timestamptz
);
