import { EventEmitter } from 'node:events';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { ConfigReported, DesiredConfig, DeviceConfig } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import type { Publish } from './publish.ts';

/** What the hub wants a device to run and what the device last said about it. */
export interface DeviceConfigState {
  deviceId: string;
  desired: { version: number; config: DeviceConfig; at: string } | null;
  reported: {
    status: ConfigReported['status'];
    /** The version the report is about; absent when the device could not read one. */
    version?: number;
    /** The version the device runs now (0: none yet). */
    appliedVersion: number;
    reason?: string;
    at: string;
  } | null;
}

interface ConfigRow {
  desired: DeviceConfig;
  desired_version: number;
  desired_at: Date | string;
  reported_status: ConfigReported['status'] | null;
  reported_version: number | null;
  applied_version: number | null;
  reported_reason: string | null;
  reported_at: Date | string | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();

/**
 * Desired versus reported configuration per device (a "shadow", table device_config in migration 005). Every
 * change of the desired configuration gets the next version and is published retained on the device's
 * `config` topic, so a kiosk that connects later still receives it; the kiosk applies only versions above
 * its own and answers on `config/reported`.
 */
export class ConfigShadow extends EventEmitter<{ reported: [{ deviceId: string; report: ConfigReported }] }> {
  private publish: Publish | undefined;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {
    super();
  }

  start(publish: Publish): void {
    this.publish = publish;
  }

  /**
   * Publishes every desired configuration again, on each connection to the broker: an embedded broker loses
   * retained messages when the hub restarts, and an external one may have too.
   */
  async republish(): Promise<void> {
    const { rows } = await this.db.query<{ device_id: string; desired: DeviceConfig; desired_version: number }>(
      'SELECT device_id, desired, desired_version FROM device_config',
    );
    for (const row of rows) await this.send(row.device_id, { v: 1, version: row.desired_version, config: row.desired });
  }

  stop(): void {
    this.publish = undefined;
  }

  /** Stores `config` as the device's next desired version and publishes it; returns that version. */
  async setDesired(deviceId: string, config: DeviceConfig): Promise<number> {
    const { rows } = await this.db.query<{ desired_version: number }>(
      `INSERT INTO device_config (device_id, desired, desired_version) VALUES ($1, $2::jsonb, 1)
       ON CONFLICT (device_id) DO UPDATE
         SET desired = EXCLUDED.desired, desired_version = device_config.desired_version + 1, desired_at = now()
       RETURNING desired_version`,
      [deviceId, JSON.stringify(config)],
    );
    const version = rows[0]!.desired_version;
    this.logger.info({ deviceId, version }, 'desired configuration changed');
    // Stored first: if the broker is unreachable now, republish() sends it on the next connection.
    try {
      await this.send(deviceId, { v: 1, version, config });
    } catch (error) {
      this.logger.warn({ deviceId, version, err: (error as Error).message }, 'desired configuration stored; publishing it on reconnect');
    }
    return version;
  }

  /**
   * Records a device's report, then emits `reported` (for the fleet view); a report from a device that has no
   * desired configuration is logged and ignored.
   */
  async recordReported(deviceId: string, report: ConfigReported): Promise<void> {
    const reason = report.status === 'rejected' ? report.reason : null;
    const { rows } = await this.db.query(
      `UPDATE device_config SET reported_status = $2, reported_version = $3, applied_version = $4, reported_reason = $5,
              reported_at = now()
        WHERE device_id = $1 RETURNING device_id`,
      [deviceId, report.status, report.version ?? null, report.appliedVersion, reason],
    );
    const log = { deviceId, status: report.status, version: report.version, appliedVersion: report.appliedVersion, reason };
    if (rows.length === 0) return void this.logger.warn(log, 'configuration report from a device without desired configuration');
    if (report.status === 'rejected') this.logger.warn(log, 'device rejected its configuration');
    else this.logger.info(log, 'device applied its configuration');
    this.emit('reported', { deviceId, report });
  }

  async get(deviceId: string): Promise<DeviceConfigState> {
    const { rows } = await this.db.query<ConfigRow>('SELECT * FROM device_config WHERE device_id = $1', [deviceId]);
    const row = rows[0];
    if (!row) return { deviceId, desired: null, reported: null };
    return {
      deviceId,
      desired: { version: row.desired_version, config: row.desired, at: iso(row.desired_at) },
      reported:
        row.reported_status === null || row.reported_at === null
          ? null
          : {
              status: row.reported_status,
              ...(row.reported_version === null ? {} : { version: row.reported_version }),
              appliedVersion: row.applied_version ?? 0,
              ...(row.reported_reason === null ? {} : { reason: row.reported_reason }),
              at: iso(row.reported_at),
            },
    };
  }

  private async send(deviceId: string, desired: DesiredConfig): Promise<void> {
    if (!this.publish) return;
    await this.publish(topics.config(deviceId), encodePayload(desired), { retain: true });
  }
}
