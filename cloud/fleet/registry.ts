import { EventEmitter } from 'node:events';
import type { Logger } from '../../shared/logger.ts';
import type { DeviceStatus } from '../../shared/contract/payloads.ts';
import type { DeviceTelemetry } from '../../shared/contract/fleet.ts';
import type { Queryable } from '../db/database.ts';
import { alertsFor, DEFAULT_THRESHOLDS, type Alert, type AlertThresholds } from './alerts.ts';

/** Where a device stands in the chain; from configuration, optional. */
export interface DevicePlacement {
  store: string;
  region?: string;
}

/** The registry's view of one kiosk, as the dashboard and the REST API show it. */
export interface FleetDevice {
  deviceId: string;
  online: boolean;
  lastConnectAt: string | null;
  lastDisconnectAt: string | null;
  lastActivityAt: string | null;
  disconnectReason: 'clean' | 'unexpected' | null;
  softwareVersion: string | null;
  telemetry: DeviceTelemetry | null;
  store: string | null;
  region: string | null;
  alerts: Alert[];
}

export interface FleetRegistryOptions {
  db: Queryable;
  logger: Logger;
  placements?: Record<string, DevicePlacement>;
  thresholds?: Partial<AlertThresholds>;
  /** Sync conflicts the gateway counted for a device (see SyncConflictCounter). */
  syncConflicts?: (deviceId: string) => number;
  now?: () => Date;
}

interface DeviceRow {
  device_id: string;
  online: boolean;
  last_connect_at: Date | string | null;
  last_disconnect_at: Date | string | null;
  last_activity_at: Date | string | null;
  disconnect_reason: 'clean' | 'unexpected' | null;
  software_version: string | null;
  telemetry: DeviceTelemetry | string | null;
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

/**
 * Availability, inventory, health and alerts of every kiosk, fed by validated `status` and `telemetry`
 * messages and kept in the `devices` table so a hub restart keeps history. Emits 'change' with the device
 * whenever what an operator sees of it changes (including alerts raised by the passing of time: evaluate()).
 */
export class FleetRegistry extends EventEmitter<{ change: [FleetDevice] }> {
  private readonly devices = new Map<string, FleetDevice>();
  private readonly thresholds: AlertThresholds;
  private readonly now: () => Date;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly options: FleetRegistryOptions) {
    super();
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.now = options.now ?? (() => new Date());
  }

  async load(): Promise<void> {
    const { rows } = await this.options.db.query<DeviceRow>('SELECT * FROM devices');
    for (const row of rows) {
      const telemetry = typeof row.telemetry === 'string' ? (JSON.parse(row.telemetry) as DeviceTelemetry) : row.telemetry;
      const device = this.blank(row.device_id);
      Object.assign(device, {
        online: row.online,
        lastConnectAt: iso(row.last_connect_at),
        lastDisconnectAt: iso(row.last_disconnect_at),
        lastActivityAt: iso(row.last_activity_at),
        disconnectReason: row.disconnect_reason,
        softwareVersion: row.software_version,
        telemetry,
      });
      device.alerts = this.alertsOf(device);
      this.devices.set(device.deviceId, device);
    }
  }

  list(): FleetDevice[] {
    return [...this.devices.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId)).map((d) => structuredClone(d));
  }

  get(deviceId: string): FleetDevice | undefined {
    const device = this.devices.get(deviceId);
    return device && structuredClone(device);
  }

  /**
   * An `offline` status is the Last Will when it is stamped no later than the `online` it ends: the kiosk
   * writes its will before connecting, and a clean goodbye is written at shutdown, after the online status.
   */
  applyStatus(status: DeviceStatus): void {
    const device = this.devices.get(status.deviceId) ?? this.blank(status.deviceId);
    // Retained statuses come again whenever the hub (re)subscribes; a repeat must not rewrite history.
    const repeat = status.state === 'online' ? device.online && device.lastConnectAt === status.at : !device.online && device.lastDisconnectAt !== null;
    if (repeat) return;
    const at = this.now().toISOString();
    if (status.state === 'online') {
      Object.assign(device, { online: true, lastConnectAt: status.at, disconnectReason: null });
    } else {
      const will = device.lastConnectAt !== null && Date.parse(status.at) <= Date.parse(device.lastConnectAt);
      Object.assign(device, { online: false, lastDisconnectAt: at, disconnectReason: will ? 'unexpected' : 'clean' });
    }
    // A will was written when the session began; telemetry since then may name a newer version.
    if (status.state === 'online' && status.softwareVersion) device.softwareVersion = status.softwareVersion;
    device.lastActivityAt = at;
    this.commit(device);
  }

  applyTelemetry(telemetry: DeviceTelemetry): void {
    const device = this.devices.get(telemetry.deviceId) ?? this.blank(telemetry.deviceId);
    Object.assign(device, { telemetry, softwareVersion: telemetry.softwareVersion, lastActivityAt: this.now().toISOString() });
    this.commit(device);
  }

  /** Re-evaluates alerts that depend on the clock or on outside counts; emits for devices whose alerts changed. */
  evaluate(deviceIds: Iterable<string> = this.devices.keys()): void {
    for (const deviceId of deviceIds) {
      const device = this.devices.get(deviceId);
      if (!device) continue;
      const alerts = this.alertsOf(device);
      if (JSON.stringify(alerts.map((a) => a.kind)) === JSON.stringify(device.alerts.map((a) => a.kind))) continue;
      device.alerts = alerts;
      this.emit('change', structuredClone(device));
    }
  }

  /** Resolves once every change so far is in the database. */
  flush(): Promise<void> {
    return this.writes;
  }

  private blank(deviceId: string): FleetDevice {
    const placement = this.options.placements?.[deviceId];
    return {
      deviceId,
      online: false,
      lastConnectAt: null,
      lastDisconnectAt: null,
      lastActivityAt: null,
      disconnectReason: null,
      softwareVersion: null,
      telemetry: null,
      store: placement?.store ?? null,
      region: placement?.region ?? null,
      alerts: [],
    };
  }

  private alertsOf(device: FleetDevice): Alert[] {
    const syncConflicts = this.options.syncConflicts?.(device.deviceId) ?? 0;
    return alertsFor({ ...device, syncConflicts }, this.now().getTime(), this.thresholds);
  }

  private commit(device: FleetDevice): void {
    device.alerts = this.alertsOf(device);
    this.devices.set(device.deviceId, device);
    const row = structuredClone(device);
    // Chained so rows are written in the order the messages arrived; a failed write is logged, not fatal:
    // the retained messages bring the state back on the next start.
    this.writes = this.writes.then(() => this.persist(row)).catch((error: Error) => {
      this.options.logger.error({ deviceId: row.deviceId, err: error.message }, 'could not persist device');
    });
    this.emit('change', structuredClone(device));
  }

  private async persist(device: FleetDevice): Promise<void> {
    await this.options.db.query(
      `INSERT INTO devices (device_id, online, last_connect_at, last_disconnect_at, last_activity_at, disconnect_reason, software_version, telemetry, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
       ON CONFLICT (device_id) DO UPDATE SET online = $2, last_connect_at = $3, last_disconnect_at = $4, last_activity_at = $5,
         disconnect_reason = $6, software_version = $7, telemetry = $8, updated_at = now()`,
      [
        device.deviceId,
        device.online,
        device.lastConnectAt,
        device.lastDisconnectAt,
        device.lastActivityAt,
        device.disconnectReason,
        device.softwareVersion,
        device.telemetry === null ? null : JSON.stringify(device.telemetry),
      ],
    );
  }
}
