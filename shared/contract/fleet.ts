import { Type, type Static } from '@sinclair/typebox';
import { DeviceId, ErrorBody, Timestamp, Uuid } from './payloads.ts';

/**
 * Fleet payloads (issue 4): kiosk telemetry, hub → kiosk commands and their results, and the hub's retained
 * fleet summary. Kept beside payloads.ts and built from its field formats and the same
 * TypeBox vocabulary; version 1 like the rest of the device protocol.
 */

const Count = Type.Integer({ minimum: 0 });
const ShortText = Type.String({ maxLength: 200 });

const PeripheralFault = Type.Object({ code: Type.String({ maxLength: 40 }), message: ShortText, since: Timestamp });

/** device/health/peripheral-health.ts on the wire; counters are left out (they are for the technician page). */
export const PeripheralTelemetry = Type.Object(
  {
    kind: Type.Union([Type.Literal('nfc-reader'), Type.Literal('magstripe-reader'), Type.Literal('bill-validator'), Type.Literal('printer')]),
    name: Type.String({ maxLength: 120 }),
    present: Type.Boolean(),
    ready: Type.Boolean(),
    fault: Type.Union([PeripheralFault, Type.Null()]),
    paper: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('near-end'), Type.Literal('out'), Type.Literal('unknown')])),
    stacker: Type.Optional(Type.Object({ bills: Count, capacity: Type.Union([Count, Type.Null()]), removed: Type.Boolean() })),
  },
  { additionalProperties: false },
);
export type PeripheralTelemetry = Static<typeof PeripheralTelemetry>;

export const DeviceTelemetry = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: DeviceId,
    at: Timestamp,
    softwareVersion: Type.String({ maxLength: 32 }),
    uptimeSeconds: Count,
    memoryRssBytes: Count,
    health: Type.Object(
      {
        overall: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('fault')]),
        summary: Type.String({ maxLength: 1000 }),
        peripherals: Type.Array(PeripheralTelemetry, { maxItems: 16 }),
      },
      { additionalProperties: false },
    ),
    outbox: Type.Object(
      {
        depth: Count,
        /** Age of the oldest unsynced transaction; null with an empty outbox. */
        oldestAgeSeconds: Type.Union([Count, Type.Null()]),
      },
      { additionalProperties: false },
    ),
    hubLink: Type.Object(
      { connected: Type.Boolean(), lastSyncAt: Type.Union([Timestamp, Type.Null()]) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DeviceTelemetry = Static<typeof DeviceTelemetry>;

export const COMMAND_NAMES = ['reprint-last-receipt', 'refresh-cache', 'run-self-test', 'restart-app', 'update-config'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Open on purpose: the device checks the name itself so it can answer an unknown one with an error result. */
export const DeviceCommand = Type.Object(
  {
    v: Type.Literal(1),
    correlationId: Uuid,
    name: Type.String({ minLength: 1, maxLength: 40 }),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    issuedAt: Timestamp,
    /** After this the command must not run: a kiosk that was offline answers 'expired' instead. */
    expiresAt: Timestamp,
  },
  { additionalProperties: false },
);
export type DeviceCommand = Static<typeof DeviceCommand>;

export const CommandResult = Type.Union([
  Type.Object(
    { v: Type.Literal(1), correlationId: Uuid, status: Type.Literal('ok'), data: Type.Optional(Type.Unknown()) },
    { additionalProperties: false },
  ),
  Type.Object(
    { v: Type.Literal(1), correlationId: Uuid, status: Type.Literal('error'), error: ErrorBody },
    { additionalProperties: false },
  ),
]);
export type CommandResult = Static<typeof CommandResult>;

/** Error codes of a command result (the last one the hub's own, when it stops waiting); the hub maps them to HTTP statuses. */
export const COMMAND_ERROR = {
  unknown: 'UNKNOWN_COMMAND',
  expired: 'EXPIRED',
  invalid: 'INVALID_COMMAND',
  failed: 'COMMAND_FAILED',
  hubStopping: 'HUB_STOPPING',
} as const;

export const ALERT_KINDS = [
  'offline',
  'inactive',
  'paper-low',
  'paper-out',
  'stacker-nearly-full',
  'stacker-full',
  'bill-jam',
  'sync-conflicts',
  'outbox-backlog-old',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

const CountsByKey = Type.Record(Type.String(), Count);

export const FleetSummary = Type.Object(
  {
    v: Type.Literal(1),
    at: Timestamp,
    devices: Count,
    online: Count,
    offline: Count,
    alerts: CountsByKey,
    byStore: Type.Record(Type.String(), Type.Object({ online: Count, offline: Count }, { additionalProperties: false })),
    byRegion: Type.Record(Type.String(), Type.Object({ online: Count, offline: Count }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type FleetSummary = Static<typeof FleetSummary>;
