import { EventEmitter } from 'node:events';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { DesiredConfig, type ConfigReported, type DesiredProgram, type ProgramReported } from '../../shared/contract/payloads.ts';
import { programRuleProblems, type ProgramRules } from '../../shared/rules/program.ts';
import type { AppliedConfig, AppliedProgram, KioskStore } from '../store/kiosk-store.ts';
import type { HubLink } from './hub-link.ts';

export interface ConfigSyncOptions {
  deviceId: string;
  link: Pick<HubLink, 'handle' | 'publishMessage'>;
  store: KioskStore;
  logger: Logger;
}

interface ConfigSyncEvents {
  /** A newer configuration is now durable and should take effect (offline limits, store name, footer). */
  applied: [NonNullable<AppliedConfig>];
  /** A newer program rule set passed validation and is now durable; top-ups are priced with it from now on. */
  program: [NonNullable<AppliedProgram>];
}

/** The report's reason field holds at most 500 characters; a long list of rule problems is cut to fit. */
const MAX_REASON = 500;
const fitReason = (reason: string) => (reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON - 1)}…`);

/**
 * The kiosk's half of the configuration shadow. The hub's desired configuration arrives retained on `config`;
 * a newer version is written durably and then announced, an older one is refused as stale, an invalid one
 * is refused with the reason, and every outcome is reported on `config/reported`. The same version again
 * (the retained message after each reconnect) is reported as applied without applying it twice.
 *
 * Program rules ride along with their own version line and are applied independently: a newer rule set that
 * passes validateProgramRules is stored durably and announced; an invalid one is refused with every problem
 * named and the rules in force stay; an older one is refused as stale. The outcome goes in the same report.
 */
export class ConfigSync extends EventEmitter<ConfigSyncEvents> {
  constructor(private readonly options: ConfigSyncOptions) {
    super();
  }

  start(): void {
    this.options.link.handle(topics.config(this.options.deviceId), (payload) => this.onDesired(payload));
  }

  /** The configuration in force, from disk: apply it at start-up before the hub is reachable. */
  get current(): AppliedConfig {
    return this.options.store.config;
  }

  private async onDesired(payload: Buffer): Promise<void> {
    const { store, logger } = this.options;
    const decoded = decodePayload(DesiredConfig, payload);
    if (!decoded.ok) {
      logger.warn({ reason: decoded.reason }, 'refused desired configuration');
      return this.report({ v: 1, status: 'rejected', ...offeredVersion(payload), appliedVersion: this.appliedVersion(), reason: decoded.reason });
    }
    const { version, config, program } = decoded.value;
    const programReport = program ? { program: await this.onProgram(program) } : {};
    const applied = this.appliedVersion();
    if (version < applied) {
      logger.warn({ version, applied }, 'refused stale configuration');
      const reason = `stale: version ${version} is older than the applied version ${applied}`;
      return this.report({ v: 1, status: 'rejected', version, appliedVersion: applied, reason, ...programReport });
    }
    // The store re-checks the version at the moment of writing, so of two configurations arriving together the newer wins.
    if (version > applied && (await store.applyConfig(version, config))) {
      logger.info({ version }, 'configuration applied');
      this.emit('applied', store.config!);
    }
    this.report({ v: 1, status: 'applied', version, appliedVersion: this.appliedVersion(), ...programReport });
  }

  private async onProgram({ version, rules }: DesiredProgram): Promise<ProgramReported> {
    const { store, logger } = this.options;
    const applied = store.program?.version ?? 0;
    if (version < applied) {
      logger.warn({ version, applied }, 'refused stale program rules');
      return { status: 'rejected', version, appliedVersion: applied, reason: `stale: rules version ${version} is older than the applied version ${applied}` };
    }
    if (version > applied) {
      const problems = programRuleProblems(rules);
      if (problems.length > 0) {
        logger.warn({ version, problems }, 'refused invalid program rules; the rules in force stay');
        return { status: 'rejected', version, appliedVersion: applied, reason: fitReason(`invalid program rules: ${problems.join('; ')}`) };
      }
      if (await store.applyProgram(version, rules as unknown as ProgramRules)) {
        logger.info({ version }, 'program rules applied');
        this.emit('program', store.program!);
      }
    }
    return { status: 'applied', version, appliedVersion: store.program?.version ?? version };
  }

  private appliedVersion(): number {
    return this.options.store.config?.version ?? 0;
  }

  /** Lost while offline is fine: the retained configuration comes again on reconnect and is reported then. */
  private report(report: ConfigReported): void {
    this.options.link.publishMessage(topics.configReported(this.options.deviceId), encodePayload(report), { qos: 1 });
  }
}

/** The version an invalid configuration claimed, when it has a usable one, so the hub knows which one failed. */
function offeredVersion(payload: Buffer): { version?: number } {
  try {
    const version = (JSON.parse(payload.toString('utf8')) as { version?: unknown }).version;
    return typeof version === 'number' && Number.isSafeInteger(version) && version >= 1 ? { version } : {};
  } catch {
    return {};
  }
}
