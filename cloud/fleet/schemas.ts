import { Type, type Static } from '@sinclair/typebox';
import { ALERT_KINDS, COMMAND_NAMES, DeviceTelemetry, FleetSummary } from '../../shared/contract/fleet.ts';
import { DEVICE_ID_PATTERN } from '../../shared/ids.ts';

/** REST schemas of the fleet routes; they drive validation, serialisation and the OpenAPI document. */

const strict = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Time = Type.String({ format: 'date-time' });

export const Alert = Type.Object(
  {
    kind: Type.Union(ALERT_KINDS.map((kind) => Type.Literal(kind))),
    severity: Type.Union([Type.Literal('warning'), Type.Literal('critical')]),
    message: Type.String(),
  },
  strict,
);

export const FleetDevice = Type.Object(
  {
    deviceId: Type.String(),
    online: Type.Boolean(),
    lastConnectAt: Nullable(Time),
    lastDisconnectAt: Nullable(Time),
    lastActivityAt: Nullable(Time),
    disconnectReason: Type.Union([Type.Literal('clean'), Type.Literal('unexpected'), Type.Null()]),
    softwareVersion: Nullable(Type.String()),
    telemetry: Type.Union([DeviceTelemetry, Type.Null()]),
    store: Nullable(Type.String()),
    region: Nullable(Type.String()),
    alerts: Type.Array(Alert),
  },
  { ...strict, description: 'One kiosk as the fleet registry sees it.' },
);

export const FleetResponse = Type.Object({ summary: FleetSummary, devices: Type.Array(FleetDevice) }, strict);

export const DeviceParams = Type.Object({ deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }) }, strict);
export type DeviceParams = Static<typeof DeviceParams>;

export const CommandBody = Type.Object(
  {
    name: Type.Union(COMMAND_NAMES.map((name) => Type.Literal(name))),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    ttlSeconds: Type.Integer({ minimum: 1, maximum: 3600, description: 'The kiosk must not run it later than this; the hub waits as long.' }),
  },
  strict,
);
export type CommandBody = Static<typeof CommandBody>;

export const CommandReply = Type.Object({ correlationId: Type.String(), data: Type.Optional(Type.Unknown()) }, strict);
