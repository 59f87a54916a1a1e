-- The fleet registry's memory of every kiosk (issue 4): availability history and the last telemetry, so a hub
-- restart still knows when each device was last seen and why it went away. Written by cloud/fleet/registry.ts.
CREATE TABLE devices (
  device_id text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  online boolean NOT NULL DEFAULT false,
  last_connect_at timestamptz,
  last_disconnect_at timestamptz,
  last_activity_at timestamptz,
  -- 'clean': the kiosk said goodbye; 'unexpected': the broker published its Last Will.
  disconnect_reason text CHECK (disconnect_reason IN ('clean', 'unexpected')),
  software_version text,
  telemetry jsonb,
  updated_at timestamptz NOT NULL DEFAULT now()
);
