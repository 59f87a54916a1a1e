import { EventEmitter } from 'node:events';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { encodePayload, MAX_PAYLOAD_BYTES } from '../../shared/contract/decode.ts';
import type { ConfigReported, DesiredConfig, DesiredProgram, DeviceConfig, DeviceStatus, ProgramReported } from '../../shared/contract/payloads.ts';
import { DEFAULT_OFFLINE_LIMITS } from '../../shared/offline-limits.ts';
import type { Database } from '../db/database.ts';
import type { PublishedRules } from '../program/index.ts';
import type { Publish } from './publish.ts';

/** Where the published program rules come from (the hub's RulesStore). */
export interface ProgramSource {
  current(): Promise<Pick<PublishedRules, 'version' | 'rules'>>;
}

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
  /**
   * The program rules version sent with the configuration and what the device last said about it. Kept in the
   * hub's memory only: the device reports again each time it (re)receives the retained configuration.
   */
  program?: { desiredVersion: number | null; reported: (ProgramReported & { at: string }) | null };
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
 * What a kiosk runs when no operator has configured it. It exists because the program rules ride on the desired
 * configuration: without one a kiosk would get no rules, offer no bonus and the hub would post principal only.
 * The offline limits are the kiosk's own defaults (imported, not copied), so such a kiosk keeps the caps it ran
 * with; it names no store, so the kiosk keeps the store name it was installed with until an operator sets one.
 */
export const DEFAULT_DEVICE_CONFIG: DeviceConfig = {
  receiptFooter: '谢谢惠顾 Thank you',
  offlineLimits: { ...DEFAULT_OFFLINE_LIMITS },
};

/**
 * Desired versus reported configuration per device (a "shadow", table device_config in migration 005). Every
 * change of the desired configuration gets the next version and is published retained on the device's
 * `config` topic, so a kiosk that connects later still receives it; the kiosk applies only versions above
 * its own and answers on `config/reported`.
 *
 * With a program source, every desired configuration also carries the current program rules (version and rules):
 * a newly published rule set is noticed by checkProgram() (on a timer, and at each republish) and sent to every
 * configured device again, retained, under its unchanged configuration version.
 *
 * Every device the hub sees online has a desired configuration: one no operator has configured gets
 * DEFAULT_DEVICE_CONFIG as version 1 (onStatus), so every connected kiosk receives the current rules and every
 * later version. An operator's PUT then simply becomes version 2.
 */
export class ConfigShadow extends EventEmitter<{ reported: [{ deviceId: string; report: ConfigReported }] }> {
  private publish: Publish | undefined;
  private program: DesiredProgram | undefined;
  private readonly programReports = new Map<string, ProgramReported & { at: string }>();
  private programTimer: NodeJS.Timeout | undefined;
  /**
   * Devices known to have a desired configuration (rows are never deleted), so a status costs a database round
   * trip only the first time this hub sees the device.
   */
  private readonly configured = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly programSource?: ProgramSource,
    /** How often a newly published rule set is looked for (rules may be published through any hub instance). */
    private readonly programCheckMs = 5_000,
  ) {
    super();
  }

  start(publish: Publish): void {
    this.publish = publish;
    if (this.programSource && !this.programTimer) {
      this.programTimer = setInterval(() => {
        this.checkProgram().catch((error: Error) => this.logger.warn({ err: error.message }, 'could not check the program rules'));
      }, this.programCheckMs);
      this.programTimer.unref();
    }
  }

  /**
   * Reads the current program rules; when their version is newer than the one sent, every device's desired
   * configuration is published again carrying them. Returns the version now sent (undefined: no program source).
   */
  async checkProgram(): Promise<number | undefined> {
    if (await this.refreshProgram()) await this.republishStored();
    return this.program?.version;
  }

  /** True when a newer rule set than the one held was read. */
  private async refreshProgram(): Promise<boolean> {
    if (!this.programSource) return false;
    const { version, rules } = await this.programSource.current();
    if (this.program && this.program.version >= version) return false;
    this.program = { version, rules: rules as unknown as Record<string, unknown> };
    this.logger.info({ version }, 'program rules for kiosks');
    return true;
  }

  /**
   * Publishes every desired configuration again, on each connection to the broker: an embedded broker loses
   * retained messages when the hub restarts, and an external one may have too.
   */
  async republish(): Promise<void> {
    await this.refreshProgram();
    await this.republishStored();
  }

  private async republishStored(): Promise<void> {
    const { rows } = await this.db.query<{ device_id: string; desired: DeviceConfig; desired_version: number }>(
      'SELECT device_id, desired, desired_version FROM device_config',
    );
    for (const row of rows) {
      this.configured.add(row.device_id);
      await this.send(row.device_id, { v: 1, version: row.desired_version, config: row.desired });
    }
  }

  stop(): void {
    this.publish = undefined;
    clearInterval(this.programTimer);
    this.programTimer = undefined;
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
    this.configured.add(deviceId);
    this.logger.info({ deviceId, version }, 'desired configuration changed');
    await this.sendStored(deviceId, version, config);
    return version;
  }

  /**
   * Publishes a desired configuration just stored: if the broker is unreachable now, republish() sends it on the next
   * connection. The rules are read only if none are held yet: a newer set is found by checkProgram (on its timer and
   * on every publish through this hub), which sends every device's configuration again. Reading them here for each
   * device cost a ramp-up of 10,000 new kiosks 10,000 reads (and JSON parses) of the whole rule set.
   */
  private async sendStored(deviceId: string, version: number, config: DeviceConfig): Promise<void> {
    try {
      if (!this.program) await this.refreshProgram();
      await this.send(deviceId, { v: 1, version, config });
    } catch (error) {
      this.logger.warn({ deviceId, version, err: (error as Error).message }, 'desired configuration stored; publishing it on reconnect');
    }
  }

  /**
   * A device's status as the gateway received it: a device that is online and has no desired configuration gets
   * the default one (ensureDesired), with the program rules. A status naming another device than its topic is
   * forged or misrouted and changes nothing. Never throws: a failure is logged and the device's next status
   * (it publishes one on every connect) or the hub's next start tries again.
   */
  async onStatus(deviceId: string, status: DeviceStatus): Promise<void> {
    if (status.state !== 'online' || status.deviceId !== deviceId || this.configured.has(deviceId)) return;
    try {
      // No operator acted, so the reason goes to the log (device_config has no actor columns; a PUT replaces it).
      if (await this.ensureDesired(deviceId)) {
        this.logger.info({ deviceId, actor: 'system' }, 'unconfigured device came online: sent it the default configuration with the program rules');
      }
    } catch (error) {
      this.logger.warn({ deviceId, err: (error as Error).message }, 'could not give the device a default configuration');
    }
  }

  /**
   * Makes `config` the device's desired configuration (version 1) when it has none, and publishes it with the
   * program rules; a device that already has one keeps it untouched. Returns true when it was created here.
   * Never overwrites: against a concurrent PUT or another hub instance doing the same, the first writer's row stays.
   */
  async ensureDesired(deviceId: string, config: DeviceConfig = DEFAULT_DEVICE_CONFIG): Promise<boolean> {
    const { rows } = await this.db.query<{ desired_version: number }>(
      `INSERT INTO device_config (device_id, desired, desired_version) VALUES ($1, $2::jsonb, 1)
       ON CONFLICT (device_id) DO NOTHING RETURNING desired_version`,
      [deviceId, JSON.stringify(config)],
    );
    this.configured.add(deviceId);
    if (rows.length === 0) return false;
    this.logger.info({ deviceId, version: 1 }, 'desired configuration created');
    await this.sendStored(deviceId, 1, config);
    return true;
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
    if (report.program) {
      this.programReports.set(deviceId, { ...report.program, at: new Date().toISOString() });
      const program = { deviceId, ...report.program };
      if (report.program.status === 'rejected') this.logger.warn(program, 'device rejected the program rules; it keeps the rules it had');
      else this.logger.info(program, 'device runs the program rules');
    }
    this.emit('reported', { deviceId, report });
  }

  async get(deviceId: string): Promise<DeviceConfigState> {
    const { rows } = await this.db.query<ConfigRow>('SELECT * FROM device_config WHERE device_id = $1', [deviceId]);
    const row = rows[0];
    if (!row) return { deviceId, desired: null, reported: null };
    const program = this.programSource
      ? { program: { desiredVersion: this.program?.version ?? null, reported: this.programReports.get(deviceId) ?? null } }
      : {};
    return {
      ...program,
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
    const message = encodePayload(this.program ? { ...desired, program: this.program } : desired);
    const bytes = Buffer.byteLength(message);
    // Sent anyway: the kiosk then refuses it with the reason, which shows in its report.
    if (bytes > MAX_PAYLOAD_BYTES) this.logger.error({ deviceId, bytes, max: MAX_PAYLOAD_BYTES }, 'desired configuration with program rules is larger than kiosks accept');
    await this.publish(topics.config(deviceId), message, { retain: true });
  }
}
