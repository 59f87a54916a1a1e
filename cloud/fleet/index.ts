/**
 * The fleet: every kiosk's availability, version, peripheral health, backlog and alerts (from their retained
 * status and telemetry), the retained fleet summary for headquarters, commands with a time-to-live, and the
 * dashboard page.
 */
import { EventStreams } from '../../shared/http/event-stream.ts';
import type { HubModule, HubServices } from '../kernel/module.ts';
import { registerFleetPage, registerFleetRoutes } from './dashboard.ts';
import { fleetErrors } from './errors.ts';
import { startFleet, type Fleet, type FleetOptions } from './fleet-service.ts';

export { fleetErrors } from './errors.ts';
export { startFleet, type Fleet, type FleetOptions } from './fleet-service.ts';

export interface FleetModule extends HubModule {
  /** The running fleet (after start, with a device link). */
  readonly fleet: Fleet | undefined;
}

/** How the fleet judges its devices: alert thresholds, where each kiosk stands, the clock. */
export type FleetTuning = Pick<FleetOptions, 'thresholds' | 'placements' | 'now'>;

export function fleetModule(hub: HubServices, tuning: FleetTuning = {}): FleetModule {
  const streams = new EventStreams();
  let fleet: Fleet | undefined;
  const running = (): Fleet => {
    if (fleet) return fleet;
    throw fleetErrors.FLEET_NOT_RUNNING({ zh: '本中心未连接设备通道，没有设备可显示', en: 'This hub runs without a device link: there is no fleet to show' });
  };
  const broadcastDevice = (device: unknown) => streams.broadcast({ type: 'device', device });
  const broadcastSummary = (summary: unknown) => streams.broadcast({ type: 'summary', summary });
  const recordConflict = (deviceId: string) => fleet?.recordSyncConflict(deviceId);
  return {
    name: 'fleet',
    tables: ['devices'],
    errors: fleetErrors,
    routes: async (api) => registerFleetRoutes(api, { running, streams }),
    pages: registerFleetPage,
    get fleet() {
      return fleet;
    },
    async start() {
      if (!hub.mqtt) return;
      fleet = await startFleet({ ...tuning, link: hub.mqtt, db: hub.db, logger: hub.logger.child({ component: 'fleet' }) });
      fleet.on('change', broadcastDevice);
      fleet.on('summary', broadcastSummary);
      hub.events.on('device.sequenceConflict', recordConflict);
    },
    async stop() {
      hub.events.off('device.sequenceConflict', recordConflict);
      streams.closeAll();
      await fleet?.stop();
      fleet = undefined;
    },
  };
}
