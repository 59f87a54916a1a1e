import type { FleetSummary } from '../../shared/contract/fleet.ts';
import type { FleetDevice } from './registry.ts';

type Tally = Record<string, { online: number; offline: number }>;

function count(tally: Tally, key: string | null, online: boolean): void {
  if (key === null) return;
  const entry = (tally[key] ??= { online: 0, offline: 0 });
  entry[online ? 'online' : 'offline'] += 1;
}

/** The fleet at a glance for headquarters: availability, alerts by kind, availability per store and region. */
export function summarize(devices: FleetDevice[], at: Date): FleetSummary {
  const summary: FleetSummary = { v: 1, at: at.toISOString(), devices: devices.length, online: 0, offline: 0, alerts: {}, byStore: {}, byRegion: {} };
  for (const device of devices) {
    summary[device.online ? 'online' : 'offline'] += 1;
    for (const alert of device.alerts) summary.alerts[alert.kind] = (summary.alerts[alert.kind] ?? 0) + 1;
    count(summary.byStore, device.store, device.online);
    count(summary.byRegion, device.region, device.online);
  }
  return summary;
}
