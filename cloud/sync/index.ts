import type { Logger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import { RulesStore } from '../program/rules-store.ts';
import { ConfigShadow } from './config-shadow.ts';
import { DeviceSequences } from './device-sequences.ts';
import { MemberFanout } from './member-fanout.ts';

export { ConfigShadow, DEFAULT_DEVICE_CONFIG, type DeviceConfigState, type ProgramSource } from './config-shadow.ts';
export { deviceConfigRoutes } from './config-routes.ts';
export { DeviceSequences, type SequenceGap, type SettledSequence } from './device-sequences.ts';
export { MemberFanout } from './member-fanout.ts';
export type { Publish } from './publish.ts';

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
  snapshotOf(cardUid: string): Promise<MemberSnapshot | undefined>;
  logger: Logger;
  /** How often member changes made outside the gateway are looked for (default 1 s). */
  memberSweepMs?: number;
}

export function createDeviceSync({ db, snapshotOf, logger, memberSweepMs }: DeviceSyncOptions): DeviceSync {
  const program = new RulesStore(db);
  return {
    sequences: new DeviceSequences(db),
    members: new MemberFanout({ db, snapshotOf, logger: logger.child({ component: 'member-fanout' }), intervalMs: memberSweepMs }),
    config: new ConfigShadow(db, logger.child({ component: 'config-shadow' }), program),
    program,
  };
}
