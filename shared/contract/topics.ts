import { isDeviceId } from '../ids.ts';

/**
 * The MQTT topic contract between kiosks and the hub. Every device has its own subtree
 * `mk/v1/devices/<deviceId>/…`; nothing else is published or subscribed by a device.
 *
 *   tx          device → hub   outbox transaction (QoS 1)
 *   txs         device → hub   several outbox transactions at once, to a hub that answers on tx/acks
 *   tx/ack      hub → device   result of a transaction, sent only after the hub's database commit
 *   tx/acks     hub → device   several results of one commit at once, to a device whose status asks for them
 *   req/<op>    device → hub   request with a correlation id
 *   res/<op>    hub → device   ok/error envelope echoing the correlation id
 *   member      hub → device   member snapshot after a balance change
 *   status      device → hub   retained online/offline, also the Last Will
 *   telemetry   device → hub   retained health: peripherals, outbox depth and age, version, uptime
 *   cmd         hub → device   command with a correlation id and an expiry
 *   cmd/result  device → hub   ok/error envelope echoing the command's correlation id
 *   sync        hub → device   "resend from sequence N" after the hub saw a gap
 *   config      hub → device   retained desired configuration with a version
 *   config/reported device → hub the configuration version the device applied (or refused)
 *
 * Fleet-wide, hub → headquarters: `mk/v1/fleet/summary` (retained).
 */
export const TOPIC_ROOT = 'mk/v1/devices';

export const FLEET_SUMMARY_TOPIC = 'mk/v1/fleet/summary';

export type DeviceChannel =
  | 'tx' | 'txs' | 'tx/ack' | 'tx/acks' | 'req' | 'res' | 'member' | 'status'
  | 'telemetry' | 'cmd' | 'cmd/result' | 'sync' | 'config' | 'config/reported';

export class InvalidTopicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTopicError';
  }
}

function deviceRoot(deviceId: string): string {
  if (!isDeviceId(deviceId)) throw new InvalidTopicError(`invalid device id for a topic: "${deviceId}"`);
  return `${TOPIC_ROOT}/${deviceId}`;
}

export const REQUEST_OPS = ['card.lookup'] as const;
export type RequestOp = (typeof REQUEST_OPS)[number];

export const topics = {
  tx: (deviceId: string) => `${deviceRoot(deviceId)}/tx`,
  txs: (deviceId: string) => `${deviceRoot(deviceId)}/txs`,
  txAck: (deviceId: string) => `${deviceRoot(deviceId)}/tx/ack`,
  txAcks: (deviceId: string) => `${deviceRoot(deviceId)}/tx/acks`,
  request: (deviceId: string, op: RequestOp) => `${deviceRoot(deviceId)}/req/${op}`,
  response: (deviceId: string, op: RequestOp) => `${deviceRoot(deviceId)}/res/${op}`,
  member: (deviceId: string) => `${deviceRoot(deviceId)}/member`,
  status: (deviceId: string) => `${deviceRoot(deviceId)}/status`,
  telemetry: (deviceId: string) => `${deviceRoot(deviceId)}/telemetry`,
  command: (deviceId: string) => `${deviceRoot(deviceId)}/cmd`,
  commandResult: (deviceId: string) => `${deviceRoot(deviceId)}/cmd/result`,
  sync: (deviceId: string) => `${deviceRoot(deviceId)}/sync`,
  config: (deviceId: string) => `${deviceRoot(deviceId)}/config`,
  configReported: (deviceId: string) => `${deviceRoot(deviceId)}/config/reported`,
};

/** Subscriptions the hub makes for the whole fleet. */
export const hubSubscriptions = {
  transactions: `${TOPIC_ROOT}/+/tx`,
  transactionGroups: `${TOPIC_ROOT}/+/txs`,
  requests: `${TOPIC_ROOT}/+/req/+`,
  status: `${TOPIC_ROOT}/+/status`,
  telemetry: `${TOPIC_ROOT}/+/telemetry`,
  commandResults: `${TOPIC_ROOT}/+/cmd/result`,
  configReported: `${TOPIC_ROOT}/+/config/reported`,
};

export interface ParsedDeviceTopic {
  deviceId: string;
  channel: DeviceChannel;
  op?: RequestOp;
}

/** Splits a concrete (wildcard-free) device topic; returns undefined for anything outside the contract. */
export function parseDeviceTopic(topic: string): ParsedDeviceTopic | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const [deviceId, ...rest] = topic.slice(prefix.length).split('/');
  if (!isDeviceId(deviceId)) return undefined;
  const tail = rest.join('/');
  switch (tail) {
    case 'tx':
    case 'txs':
    case 'tx/ack':
    case 'tx/acks':
    case 'member':
    case 'status':
    case 'telemetry':
    case 'cmd':
    case 'cmd/result':
    case 'sync':
    case 'config':
    case 'config/reported':
      return { deviceId, channel: tail };
  }
  if (rest.length === 2 && (rest[0] === 'req' || rest[0] === 'res')) {
    const op = REQUEST_OPS.find((known) => known === rest[1]);
    if (op) return { deviceId, channel: rest[0], op };
  }
  return undefined;
}
