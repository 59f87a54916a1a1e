import { TOPIC_ROOT } from '../../shared/contract/topics.ts';
import { DEVICE_PUBLISH_CHANNELS, DEVICE_SUBSCRIBE_CHANNELS } from './acl.ts';

/**
 * The device rules of acl.ts as a Mosquitto `acl_file`: one `pattern` line per channel, `%u` standing for the
 * connecting username (the device id). Mosquitto checks `write` on publish and `read` on subscribe and on
 * delivery; it refuses publishing to wildcard topics itself and never substitutes a `%u` holding `+` or `#`.
 */
export function renderDeviceAclFile(): string {
  const lines = [
    '# Generated from cloud/mqtt/acl.ts: each device may use only its own subtree.',
    ...DEVICE_PUBLISH_CHANNELS.map((channel) => `pattern write ${TOPIC_ROOT}/%u/${channel}`),
    ...DEVICE_SUBSCRIBE_CHANNELS.map((channel) => `pattern read ${TOPIC_ROOT}/%u/${channel}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The hub's `acl_file`: its one user may publish and subscribe anywhere, as the embedded broker allows. */
export function renderHubAclFile(hubUsername: string): string {
  if (/\s/.test(hubUsername)) throw new Error('the hub username may not contain whitespace');
  return `user ${hubUsername}\ntopic readwrite #\n`;
}
