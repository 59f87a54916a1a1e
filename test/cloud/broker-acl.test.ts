import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe, filterWithin, type Principal } from '../../cloud/mqtt/acl.ts';
import { renderDeviceAclFile, renderHubAclFile } from '../../cloud/mqtt/mosquitto-acl.ts';
import { sharedSubscription } from '../../cloud/mqtt/shared-subscriptions.ts';
import { hubSubscriptions, topics } from '../../shared/contract/topics.ts';

const A: Principal = { role: 'device', deviceId: 'kiosk-a' };
const HUB: Principal = { role: 'hub' };

describe('MQTT ACL rules', () => {
  it('lets a device publish only on its own device → hub channels', () => {
    const allowed = [
      topics.tx('kiosk-a'), topics.request('kiosk-a', 'card.lookup'), topics.status('kiosk-a'),
      topics.telemetry('kiosk-a'), topics.commandResult('kiosk-a'), topics.configReported('kiosk-a'),
    ];
    for (const topic of allowed) expect(authorizePublish(A, topic), topic).toEqual({ allowed: true });
    const refused = [
      topics.tx('kiosk-b'), topics.txAck('kiosk-a'), topics.response('kiosk-a', 'card.lookup'), topics.member('kiosk-a'),
      topics.command('kiosk-a'), topics.sync('kiosk-a'), topics.config('kiosk-a'), `${topics.tx('kiosk-a')}/extra`,
      'mk/v1/fleet/summary', '$SYS/broker/uptime', 'mk/v1/devices/kiosk-a', 'mk/v1/devices/kiosk-a/req/a/b',
    ];
    for (const topic of refused) expect(authorizePublish(A, topic).allowed, topic).toBe(false);
  });

  it('refuses publishing to a wildcard topic, even for the hub', () => {
    for (const principal of [A, HUB]) {
      expect(authorizePublish(principal, 'mk/v1/devices/+/tx').allowed).toBe(false);
      expect(authorizePublish(principal, 'mk/v1/devices/kiosk-a/req/#').allowed).toBe(false);
    }
    expect(authorizePublish(HUB, topics.txAck('kiosk-b'))).toEqual({ allowed: true });
  });

  it('lets a device subscribe only within its own hub → device channels', () => {
    const allowed = [
      topics.txAck('kiosk-a'), topics.txAcks('kiosk-a'), 'mk/v1/devices/kiosk-a/res/+', topics.response('kiosk-a', 'card.lookup'),
      topics.member('kiosk-a'), topics.command('kiosk-a'), topics.sync('kiosk-a'), topics.config('kiosk-a'),
    ];
    for (const filter of allowed) expect(authorizeSubscribe(A, filter), filter).toEqual({ allowed: true });
    const refused = [
      '#', '+/#', '$SYS/#', 'mk/v1/devices/#', 'mk/v1/devices/+/tx', 'mk/v1/devices/+/tx/ack', 'mk/v1/devices/+/tx/acks', topics.txAcks('kiosk-b'), 'mk/v1/devices/kiosk-a/#',
      'mk/v1/devices/kiosk-a/+', 'mk/v1/devices/kiosk-a/res/#', topics.txAck('kiosk-b'), topics.member('kiosk-b'),
      topics.tx('kiosk-a'), `$share/g/${topics.txAck('kiosk-a')}`,
    ];
    for (const filter of refused) expect(authorizeSubscribe(A, filter).allowed, filter).toBe(false);
    expect(authorizeSubscribe(HUB, '#')).toEqual({ allowed: true });
  });

  it('refuses a device principal whose id could not name a topic', () => {
    const bad: Principal = { role: 'device', deviceId: '+' };
    expect(authorizePublish(bad, 'mk/v1/devices/+/tx'.replace('+', 'x')).allowed).toBe(false);
    expect(authorizeSubscribe(bad, 'mk/v1/devices/+/tx/ack').allowed).toBe(false);
  });

  it('compares MQTT filters level by level', () => {
    expect(filterWithin('a/b', 'a/+')).toBe(true);
    expect(filterWithin('a/+', 'a/+')).toBe(true);
    expect(filterWithin('a/#', 'a/+')).toBe(false);
    expect(filterWithin('a/b/c', 'a/#')).toBe(true);
    expect(filterWithin('a', 'a/#')).toBe(true);
    expect(filterWithin('a/b', 'a')).toBe(false);
    expect(filterWithin('a', 'a/b')).toBe(false);
  });
});

describe('Mosquitto ACL files', () => {
  it('renders the device channels as %u patterns: write for device → hub, read for hub → device', () => {
    expect(renderDeviceAclFile().split('\n').filter((line) => line.startsWith('pattern'))).toEqual([
      'pattern write mk/v1/devices/%u/tx',
      'pattern write mk/v1/devices/%u/txs',
      'pattern write mk/v1/devices/%u/req/+',
      'pattern write mk/v1/devices/%u/status',
      'pattern write mk/v1/devices/%u/telemetry',
      'pattern write mk/v1/devices/%u/cmd/result',
      'pattern write mk/v1/devices/%u/config/reported',
      'pattern read mk/v1/devices/%u/tx/ack',
      'pattern read mk/v1/devices/%u/tx/acks',
      'pattern read mk/v1/devices/%u/res/+',
      'pattern read mk/v1/devices/%u/member',
      'pattern read mk/v1/devices/%u/cmd',
      'pattern read mk/v1/devices/%u/sync',
      'pattern read mk/v1/devices/%u/config',
    ]);
    expect(renderHubAclFile('hub')).toBe('user hub\ntopic readwrite #\n');
    expect(() => renderHubAclFile('hub\ntopic readwrite #')).toThrow();
  });
});

describe('shared subscriptions', () => {
  it('prefixes a filter with $share/<group>/ and refuses a group that would change the filter', () => {
    expect(sharedSubscription(hubSubscriptions.transactions, 'hubs')).toBe('$share/hubs/mk/v1/devices/+/tx');
    for (const group of ['', 'a/b', '+', '#', 'a b']) expect(() => sharedSubscription('x', group), group).toThrow();
    expect(() => sharedSubscription('$share/g/x', 'hubs')).toThrow();
  });
});
