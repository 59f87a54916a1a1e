import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { topics } from '../../shared/contract/topics.ts';
import type { MemberSnapshot, MemberUpdate } from '../../shared/contract/payloads.ts';
import { nextEvent } from '../helpers/events.ts';
import { linkKiosk, SyncHub, type LinkedKiosk } from '../helpers/sync-hub.ts';

describe('member changes made anywhere reach the kiosks that know the member (HubLink + KioskStore, gateway with sync)', () => {
  let hub: SyncHub;
  let knowsBoth: LinkedKiosk;
  let knowsOther: LinkedKiosk;
  let member: MemberSnapshot;
  let other: MemberSnapshot;
  const updatesSeenBy = new Map<string, MemberSnapshot[]>();

  const topUpOverRest = async (memberId: string, amountFen: number, idempotencyKey: string) => {
    const response = await hub.http.inject({
      method: 'POST',
      url: `/api/v1/members/${memberId}/topups`,
      payload: { idempotencyKey, amountFen },
      headers: hub.adminHeaders,
    });
    expect(response.statusCode).toBe(201);
  };

  beforeAll(async () => {
    hub = await SyncHub.start();
    member = await hub.member('周八', '04AA0001');
    other = await hub.member('吴九', '04AA0002');
    const record = (kiosk: LinkedKiosk) => {
      updatesSeenBy.set(kiosk.deviceId, []);
      kiosk.link.on('member', (snapshot) => updatesSeenBy.get(kiosk.deviceId)!.push(snapshot));
    };
    knowsBoth = await linkKiosk(hub, 'kiosk-fanout-a', record);
    knowsOther = await linkKiosk(hub, 'kiosk-fanout-b', record);
    // Looking a card up is how a kiosk comes to know (and cache) a member.
    await knowsBoth.link.lookupCard({ cardUid: member.cardUid });
    await knowsOther.link.lookupCard({ cardUid: other.cardUid });
  });

  afterAll(async () => {
    await knowsBoth?.stop();
    await knowsOther?.stop();
    await hub?.stop();
  });

  it('pushes a REST top-up to the kiosk that cached the member, and to no other', async () => {
    const updated = nextEvent<MemberSnapshot>(knowsBoth.link, 'member', (m) => m.memberId === member.memberId && m.balances.principalFen === 1500);
    await topUpOverRest(member.memberId, 1500, 'rest-topup-fanout-1');
    const snapshot = await updated;
    expect(snapshot.version).toBeGreaterThan(member.version);
    expect(knowsBoth.store.cachedMember(member.cardUid)).toMatchObject({ version: snapshot.version, balances: { principalFen: 1500 } });

    // A change of the member the second kiosk knows travels the same topic after the first one: once it has
    // arrived, an update of the first member would have arrived before it.
    const sentinel = nextEvent<MemberSnapshot>(knowsOther.link, 'member', (m) => m.memberId === other.memberId);
    await topUpOverRest(other.memberId, 100, 'rest-topup-fanout-2');
    await sentinel;
    expect(updatesSeenBy.get(knowsOther.deviceId)!.map((m) => m.memberId)).not.toContain(member.memberId);
    expect(knowsOther.store.cachedMember(member.cardUid)).toBeUndefined();
  });

  it("pushes another kiosk's cash top-up to the kiosk that cached the member", async () => {
    // The second kiosk now serves the first member: its ack carries the new snapshot, the first kiosk gets an update.
    const entry = await knowsOther.store.recordCashTopUp({ deviceId: knowsOther.deviceId, member, amountFen: 500 });
    const updated = nextEvent<MemberSnapshot>(knowsBoth.link, 'member', (m) => m.memberId === member.memberId && m.balances.principalFen === 2000);
    knowsOther.link.publish(entry);
    const snapshot = await updated;
    expect(knowsBoth.store.cachedMember(member.cardUid)).toMatchObject({ version: snapshot.version, balances: { principalFen: 2000 } });
  });

  it('drops an update older than the cached version', async () => {
    const cached = knowsBoth.store.cachedMember(member.cardUid)!;
    const older: MemberUpdate = { v: 1, member: { ...cached, version: cached.version - 1, balances: { ...cached.balances, principalFen: 1 } } };
    const newer: MemberUpdate = { v: 1, member: { ...cached, version: cached.version + 1 } };
    const client = await mqtt.connectAsync(hub.mqttUrl, { clientId: 'test-raw-member', reconnectPeriod: 0 });
    const seen: number[] = [];
    const listener = (m: MemberSnapshot) => seen.push(m.version);
    knowsBoth.link.on('member', listener);
    const arrived = nextEvent<MemberSnapshot>(knowsBoth.link, 'member', (m) => m.version === newer.member.version);
    // Same topic, same publisher: the newer one arrives after the older one was handled.
    await client.publishAsync(topics.member(knowsBoth.deviceId), JSON.stringify(older), { qos: 1 });
    await client.publishAsync(topics.member(knowsBoth.deviceId), JSON.stringify(newer), { qos: 1 });
    await arrived;
    knowsBoth.link.off('member', listener);
    await client.endAsync();
    expect(seen).toEqual([newer.member.version]);
    expect(knowsBoth.store.cachedMember(member.cardUid)).toMatchObject({ version: newer.member.version, balances: cached.balances });
  });
});
