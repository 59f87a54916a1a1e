import { topics } from '../../shared/contract/topics.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { DeviceTelemetry } from '../../shared/contract/fleet.ts';
import type { KioskHealth, KioskHealthRegistry } from '../health/kiosk-health.ts';
import type { KioskStore } from '../store/kiosk-store.ts';
import type { HubLink } from './hub-link.ts';

export interface TelemetryOptions {
  hub: HubLink;
  health: KioskHealthRegistry;
  store: Pick<KioskStore, 'pending'>;
  deviceId: string;
  softwareVersion: string;
  /** Published this often even when nothing changed, so the hub's inactivity alarm stays quiet. */
  intervalMs?: number;
  /** Health changes arriving within this window go out as one message (a printer can flap several times a second). */
  debounceMs?: number;
  now?: () => Date;
}

export interface Telemetry {
  /** What would be published now. */
  current(): DeviceTelemetry;
  stop(): void;
}

function wireHealth(health: KioskHealth): DeviceTelemetry['health'] {
  return {
    overall: health.overall,
    summary: health.summary.slice(0, 1000),
    peripherals: health.peripherals.map(({ kind, name, present, ready, fault, paper, stacker }) => ({
      kind,
      name,
      present,
      ready,
      fault,
      ...(paper ? { paper } : {}),
      ...(stacker ? { stacker } : {}),
    })),
  };
}

/**
 * Publishes the kiosk's retained telemetry: on every connect (the broker may have lost the retained copy),
 * on health changes (debounced) and on a fixed interval. Offline it publishes nothing — the next connect
 * sends the current state, which is all the fleet needs.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const { hub, health, store, deviceId, softwareVersion } = options;
  const now = options.now ?? (() => new Date());
  const startedAt = now().getTime();
  let lastSyncAt: string | null = null;
  let debounce: NodeJS.Timeout | undefined;

  const current = (): DeviceTelemetry => {
    const at = now();
    const pending = store.pending();
    const oldest = pending.reduce<number | null>((min, entry) => {
      const created = Date.parse(entry.tx.createdAt);
      return min === null || created < min ? created : min;
    }, null);
    return {
      v: 1,
      deviceId,
      at: at.toISOString(),
      softwareVersion,
      uptimeSeconds: Math.max(0, Math.floor((at.getTime() - startedAt) / 1000)),
      memoryRssBytes: process.memoryUsage.rss(),
      health: wireHealth(health.snapshot()),
      outbox: { depth: pending.length, oldestAgeSeconds: oldest === null ? null : Math.max(0, Math.floor((at.getTime() - oldest) / 1000)) },
      hubLink: { connected: hub.connected, lastSyncAt },
    };
  };
  const publish = (): void => {
    clearTimeout(debounce);
    debounce = undefined;
    hub.publishMessage(topics.telemetry(deviceId), encodePayload(current()), { qos: 1, retain: true });
  };
  const onHealthChange = (): void => {
    debounce ??= setTimeout(publish, options.debounceMs ?? 500);
  };
  // A settled transaction is the hub acknowledging our data: that is what "last sync" means to an operator.
  const onSettled = (): void => {
    lastSyncAt = now().toISOString();
  };

  hub.on('connected', publish);
  hub.on('settled', onSettled);
  health.on('change', onHealthChange);
  const interval = setInterval(publish, options.intervalMs ?? 60_000);
  interval.unref();
  if (hub.connected) publish();

  return {
    current,
    stop() {
      clearInterval(interval);
      clearTimeout(debounce);
      hub.off('connected', publish);
      hub.off('settled', onSettled);
      health.off('change', onHealthChange);
    },
  };
}
