/**
 * The device link: the gateway every kiosk message goes through (device transactions to the module that handles
 * their kind, requests to the module that answers their op), device sequence numbers and gaps, member updates
 * to the kiosks that hold a member, and each kiosk's configuration shadow with the program rules. It also decides
 * what a kiosk sees of a member: the snapshot with the member's program notices.
 */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { DeviceGateway } from './device-gateway.ts';
import { KioskNotices } from '../program/index.ts';
import { cardLookups, kioskMemberReader } from './card-lookups.ts';
import { deviceConfigRoutes } from './config-routes.ts';
import { createDeviceSync, type DeviceSync } from './device-sync.ts';

export { ConfigShadow, DEFAULT_DEVICE_CONFIG, type DeviceConfigState, type ProgramSource } from './config-shadow.ts';
export { createDeviceSync, type DeviceSync } from './device-sync.ts';
export { DeviceGateway, type GatewayCounters } from './device-gateway.ts';
export { DeviceSequences, type SequenceGap, type SettledSequence } from './device-sequences.ts';
export { MemberFanout } from './member-fanout.ts';
export type { Publish } from './publish.ts';

export interface SyncModule extends HubModule {
  readonly sync: DeviceSync;
  /** Program notices on the snapshots kiosks get; `notices.enabled` switches them at run time too. */
  readonly notices: KioskNotices;
  /** The gateway, once started (only with a device link). */
  readonly gateway: DeviceGateway | undefined;
}

export function syncModule(hub: HubServices): SyncModule {
  const { db, rules, logger, config } = hub;
  const notices = new KioskNotices({ program: rules, logger: logger.child({ component: 'member-notices' }), enabled: config.kioskNotices ?? true, now: hub.clock });
  const memberByCard = kioskMemberReader(db, notices);
  const sync = createDeviceSync({
    db,
    rules,
    snapshotOf: (cardUid) => memberByCard({ cardUid }),
    logger: logger.child({ component: 'device-sync' }),
  });
  let gateway: DeviceGateway | undefined;
  let stopListening: (() => void) | undefined;
  return {
    name: 'sync',
    tables: ['device_seqs', 'device_sync', 'device_members', 'device_config'],
    routes: deviceConfigRoutes(sync.config),
    deviceOperations: { requests: { 'card.lookup': cardLookups(memberByCard, sync.members) } },
    sync,
    notices,
    get gateway() {
      return gateway;
    },
    async start() {
      if (!hub.mqtt) return;
      gateway = new DeviceGateway({
        link: hub.mqtt,
        db,
        operations: hub.deviceOperations,
        sync,
        onSequenceConflict: (deviceId) => hub.events.emit('device.sequenceConflict', deviceId),
        logger: logger.child({ component: 'device-gateway' }),
      });
      await gateway.start();
      // A publish over REST reaches the kiosks at once.
      stopListening = rules.onPublished(() => {
        sync.config.checkProgram().catch((error: Error) => logger.warn({ err: error.message }, 'could not send the new program rules to kiosks'));
      });
    },
    async stop() {
      stopListening?.();
      await gateway?.stop();
    },
  };
}
