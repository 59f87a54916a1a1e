import { EventEmitter } from 'node:events';
import type { Logger } from '../../shared/logger.ts';
import { FLEET_SUMMARY_TOPIC, hubSubscriptions, parseDeviceTopic } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { DeviceStatus } from '../../shared/contract/payloads.ts';
import { CommandResult, DeviceTelemetry, type FleetSummary } from '../../shared/contract/fleet.ts';
import type { Queryable } from '../db/database.ts';
import type { BrokerLink } from '../mqtt/broker-session.ts';
import type { AlertThresholds } from './alerts.ts';
import { CommandService, type CommandRequest } from './commands.ts';
import { FleetRegistry, type DevicePlacement, type FleetDevice } from './registry.ts';
import { summarize } from './summary.ts';

export interface FleetOptions {
  /** The broker the kiosks use. */
  link: BrokerLink;
  db: Queryable;
  logger: Logger;
  placements?: Record<string, DevicePlacement>;
  thresholds?: Partial<AlertThresholds>;
  /** How often time-driven alerts (offline too long, inactive) are re-evaluated. */
  checkIntervalMs?: number;
  /** Bursts of changes (a store's power cut) become one summary message. */
  summaryDebounceMs?: number;
  now?: () => Date;
}

export interface Fleet extends EventEmitter<{ change: [FleetDevice]; summary: [FleetSummary] }> {
  readonly registry: FleetRegistry;
  devices(): FleetDevice[];
  summary(): FleetSummary;
  sendCommand(deviceId: string, request: CommandRequest): Promise<CommandResult>;
  /** For the device gateway: one more sync conflict seen from this device. */
  recordSyncConflict(deviceId: string): void;
  stop(): Promise<void>;
}

/**
 * The hub's fleet feature: its own broker session subscribes to status, telemetry and command results, feeds
 * the registry, publishes the retained fleet summary and sends commands. Every inbound payload is
 * validated; an invalid one is logged with its reason and changes nothing.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const conflicts = new Map<string, number>();
  const registry = new FleetRegistry({
    db: options.db,
    logger,
    placements: options.placements,
    thresholds: options.thresholds,
    syncConflicts: (deviceId) => conflicts.get(deviceId) ?? 0,
    now,
  });
  await registry.load();

  // Status, telemetry and command results are small and applied at once: nothing to hold back.
  const session = await options.link.connect('fleet', (topic, payload, done) => {
    onMessage(topic, payload);
    done();
  }, logger);
  const commands = new CommandService({
    publish: (topic, payload) => session.publish(topic, payload),
    logger,
    now,
  });
  const events = new EventEmitter<{ change: [FleetDevice]; summary: [FleetSummary] }>();

  let summaryTimer: NodeJS.Timeout | undefined;
  const publishSummary = (): void => {
    summaryTimer = undefined;
    const summary = summarize(registry.list(), now());
    // Emitted once the broker has it, so whoever hears the event and subscribes gets this one retained.
    session
      .publish(FLEET_SUMMARY_TOPIC, encodePayload(summary), { retain: true })
      .then(() => events.emit('summary', summary))
      .catch((error: Error) => logger.warn({ err: error.message }, 'fleet summary not published'));
  };
  registry.on('change', (device) => {
    events.emit('change', device);
    summaryTimer ??= setTimeout(publishSummary, options.summaryDebounceMs ?? 1000);
  });

  function onMessage(topic: string, payload: Buffer): void {
    const parsed = parseDeviceTopic(topic);
    if (!parsed) return;
    const { deviceId, channel } = parsed;
    const reject = (reason: string) => logger.warn({ topic, reason }, `rejected ${channel} message`);
    if (channel === 'status' || channel === 'telemetry') {
      const decoded = channel === 'status' ? decodePayload(DeviceStatus, payload) : decodePayload(DeviceTelemetry, payload);
      if (!decoded.ok) return reject(decoded.reason);
      // A device speaks only for itself: a payload naming another device is forged or misrouted.
      if (decoded.value.deviceId !== deviceId) return reject(`deviceId ${decoded.value.deviceId} does not match the topic`);
      if (channel === 'status') registry.applyStatus(decoded.value as DeviceStatus);
      else registry.applyTelemetry(decoded.value as DeviceTelemetry);
    } else if (channel === 'cmd/result') {
      const decoded = decodePayload(CommandResult, payload);
      if (!decoded.ok) return reject(decoded.reason);
      commands.settle(deviceId, decoded.value);
    }
  }
  await session.subscribe([hubSubscriptions.status, hubSubscriptions.telemetry, hubSubscriptions.commandResults]);

  // Headquarters gets the current picture at start even when no device changes: the retained copy may be stale.
  summaryTimer ??= setTimeout(publishSummary, options.summaryDebounceMs ?? 1000);
  const check = setInterval(() => registry.evaluate(), options.checkIntervalMs ?? 10_000);
  check.unref();

  return Object.assign(events, {
    registry,
    devices: () => registry.list(),
    summary: () => summarize(registry.list(), now()),
    sendCommand: (deviceId: string, request: CommandRequest) => commands.send(deviceId, request),
    recordSyncConflict(deviceId: string) {
      conflicts.set(deviceId, (conflicts.get(deviceId) ?? 0) + 1);
      registry.evaluate([deviceId]);
    },
    async stop() {
      clearInterval(check);
      clearTimeout(summaryTimer);
      commands.cancelAll();
      await session.close();
      await registry.flush();
    },
  });
}
