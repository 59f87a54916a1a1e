import { TOPIC_ROOT } from '../../shared/contract/topics.ts';
import { isDeviceId } from '../../shared/ids.ts';

/**
 * Who is on the other end of an MQTT connection: the hub (any topic) or one kiosk (its own subtree only).
 * These rules are the single source for both brokers: the embedded Aedes broker calls the functions below,
 * and the Mosquitto ACL file is rendered from the same channel lists (mosquitto-acl.ts).
 */
export type Principal = { role: 'hub' } | { role: 'device'; deviceId: string };

/** Channels under `mk/v1/devices/<own id>/` a device may publish to (device → hub in the topic contract). */
export const DEVICE_PUBLISH_CHANNELS = ['tx', 'txs', 'req/+', 'status', 'telemetry', 'cmd/result', 'config/reported'] as const;

/** Channels under `mk/v1/devices/<own id>/` a device may subscribe to (hub → device); a filter may narrow `res/+`. */
export const DEVICE_SUBSCRIBE_CHANNELS = ['tx/ack', 'tx/acks', 'res/+', 'member', 'cmd', 'sync', 'config'] as const;

export type AclDecision = { allowed: true } | { allowed: false; reason: string };

const ALLOWED: AclDecision = { allowed: true };
const refused = (reason: string): AclDecision => ({ allowed: false, reason });

function ownFilters(deviceId: string, channels: readonly string[]): string[] {
  return channels.map((channel) => `${TOPIC_ROOT}/${deviceId}/${channel}`);
}

/**
 * Whether every topic `filter` matches is also matched by `allowed` (both MQTT filters). Level by level:
 * `#` in `allowed` covers the rest (and its parent); `+` covers one level of anything but `#`; a literal covers only itself.
 */
export function filterWithin(filter: string, allowed: string): boolean {
  const want = filter.split('/');
  const have = allowed.split('/');
  for (let i = 0; i < want.length; i++) {
    const a = have[i];
    if (a === '#') return true;
    if (a === undefined) return false;
    const w = want[i];
    if (a === '+' ? w === '#' : w !== a) return false;
  }
  // `a/#` also matches `a` itself.
  return want.length === have.length || (want.length + 1 === have.length && have[want.length] === '#');
}

/** Publishing to a topic with a wildcard is refused for everyone: such a topic cannot be subscribed to exactly. */
export function authorizePublish(principal: Principal, topic: string): AclDecision {
  if (topic.includes('+') || topic.includes('#')) return refused('publish topic contains a wildcard');
  if (principal.role === 'hub') return ALLOWED;
  if (!isDeviceId(principal.deviceId)) return refused('invalid device id');
  return ownFilters(principal.deviceId, DEVICE_PUBLISH_CHANNELS).some((allowed) => filterWithin(topic, allowed))
    ? ALLOWED
    : refused('topic is not a device → hub channel of the device\'s own subtree');
}

/**
 * A device's filter must stay inside one of its own hub → device channels, so `#`, `$SYS/#`, `$share/…` and
 * any wildcard over the device-id level are refused.
 */
export function authorizeSubscribe(principal: Principal, filter: string): AclDecision {
  if (principal.role === 'hub') return ALLOWED;
  if (!isDeviceId(principal.deviceId)) return refused('invalid device id');
  return ownFilters(principal.deviceId, DEVICE_SUBSCRIBE_CHANNELS).some((allowed) => filterWithin(filter, allowed))
    ? ALLOWED
    : refused('filter reaches beyond the hub → device channels of the device\'s own subtree');
}
