import type { AlertKind, DeviceTelemetry } from '../../shared/contract/fleet.ts';

export interface Alert {
  kind: AlertKind;
  severity: 'warning' | 'critical';
  message: string;
}

export interface AlertThresholds {
  /** An offline device raises 'offline' once it has been gone this long (0: at once). */
  offlineAfterSeconds: number;
  /** An online device that sent nothing for this long raises 'inactive': a half-open link never sends a will. */
  inactiveAfterSeconds: number;
  /** Oldest unsynced transaction older than this raises 'outbox-backlog-old'. */
  outboxMaxAgeSeconds: number;
  /** This many sync conflicts reported by the gateway raise 'sync-conflicts'. */
  syncConflicts: number;
  /** Share of a bill stacker's capacity that counts as nearly full. */
  stackerNearlyFull: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  offlineAfterSeconds: 300,
  inactiveAfterSeconds: 180,
  outboxMaxAgeSeconds: 3600,
  syncConflicts: 3,
  stackerNearlyFull: 0.9,
};

/** What alerts are computed from: the registry's view of one device at one moment. */
export interface AlertInput {
  online: boolean;
  lastDisconnectAt: string | null;
  lastActivityAt: string | null;
  telemetry: DeviceTelemetry | null;
  syncConflicts: number;
}

const secondsSince = (iso: string | null, nowMs: number): number => (iso === null ? 0 : (nowMs - Date.parse(iso)) / 1000);

function peripheralAlerts(telemetry: DeviceTelemetry, thresholds: AlertThresholds): Alert[] {
  const alerts: Alert[] = [];
  for (const p of telemetry.health.peripherals) {
    const code = p.fault?.code ?? '';
    if (p.kind === 'printer') {
      if (p.paper === 'out' || code === 'paper-end') alerts.push({ kind: 'paper-out', severity: 'critical', message: `${p.name}: paper out` });
      else if (p.paper === 'near-end') alerts.push({ kind: 'paper-low', severity: 'warning', message: `${p.name}: paper low` });
    }
    if (p.kind === 'bill-validator') {
      if (code.includes('jam')) alerts.push({ kind: 'bill-jam', severity: 'critical', message: `${p.name}: ${p.fault!.message}` });
      const { bills = 0, capacity = null } = p.stacker ?? {};
      if (code === 'stacker-full' || (capacity !== null && bills >= capacity)) {
        alerts.push({ kind: 'stacker-full', severity: 'critical', message: `${p.name}: stacker full` });
      } else if (capacity !== null && bills >= capacity * thresholds.stackerNearlyFull) {
        alerts.push({ kind: 'stacker-nearly-full', severity: 'warning', message: `${p.name}: stacker ${bills}/${capacity}` });
      }
    }
  }
  return alerts;
}

/** Every alert one device raises now; pure, so the clock and thresholds are the caller's. */
export function alertsFor(device: AlertInput, nowMs: number, thresholds: AlertThresholds): Alert[] {
  const alerts: Alert[] = [];
  if (!device.online) {
    const gone = secondsSince(device.lastDisconnectAt, nowMs);
    if (gone >= thresholds.offlineAfterSeconds) alerts.push({ kind: 'offline', severity: 'critical', message: `offline since ${device.lastDisconnectAt}` });
  } else {
    const quiet = secondsSince(device.lastActivityAt, nowMs);
    if (quiet >= thresholds.inactiveAfterSeconds) alerts.push({ kind: 'inactive', severity: 'critical', message: `no message since ${device.lastActivityAt}` });
  }
  if (device.telemetry) {
    alerts.push(...peripheralAlerts(device.telemetry, thresholds));
    const age = device.telemetry.outbox.oldestAgeSeconds;
    if (age !== null && age > thresholds.outboxMaxAgeSeconds) {
      alerts.push({ kind: 'outbox-backlog-old', severity: 'warning', message: `${device.telemetry.outbox.depth} unsynced, oldest ${age} s` });
    }
  }
  if (device.syncConflicts >= thresholds.syncConflicts) {
    alerts.push({ kind: 'sync-conflicts', severity: 'warning', message: `${device.syncConflicts} sync conflicts` });
  }
  return alerts;
}
