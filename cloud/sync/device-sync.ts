import type { Logger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import type { RulesStore } from '../program/index.ts';
import { ConfigShadow } from './config-shadow.ts';
import { DeviceSequences } from './device-sequences.ts';
import { MemberFanout } from './member-fanout.ts';

/** The hub's device synchronisation features; the device gateway starts and stops them with its MQTT link. */
export interface DeviceSync {
  sequences: DeviceSequences;
  members: MemberFanout;
  config: ConfigShadow;
  /** The published program rules: sent to kiosks with their configuration, and used to re-price their top-ups. */
  program: RulesStore;
}

export interface DeviceSyncOptions {
  db: Database;
  rules: RulesStore;
  snapshotOf(cardUid: string): Promise<MemberSnapshot | undefined>;
  logger: Logger;
  /** How often member changes made outside the gateway are looked for (default 1 s). */
  memberSweepMs?: number;
}

export function createDeviceSync({ db, rules, snapshotOf, logger, memberSweepMs }: DeviceSyncOptions): DeviceSync {
  return {
    sequences: new DeviceSequences(db),
    members: new MemberFanout({ db, snapshotOf, logger: logger.child({ component: 'member-fanout' }), intervalMs: memberSweepMs }),
    config: new ConfigShadow(db, logger.child({ component: 'config-shadow' }), rules),
    program: rules,
  };
}
