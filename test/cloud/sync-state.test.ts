import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import { ConfigShadow, DeviceSequences, MemberFanout } from '../../cloud/sync/index.ts';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { MemberUpdate } from '../../shared/contract/payloads.ts';
import { BACKENDS, key, newCardUid, useDatabases } from './support.ts';

const databases = useDatabases();
const logger = createLogger('test-sync-state');
const operator = { type: 'operator' as const, id: 'test-operator' };

describe.each(BACKENDS)('device sync state on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = new Ledger(db);
  });

  it('claims sequence numbers, refuses a second claimant, and walks the contiguous mark over settled ones', async () => {
    const sequences = new DeviceSequences(db);
    const device = `kiosk-${backend}-seq`;
    const [a, b, c, impostor] = [newId(), newId(), newId(), newId()];
    expect(await sequences.claim(device, 1, a)).toEqual({ ok: true });
    expect(await sequences.claim(device, 1, a)).toEqual({ ok: true });
    expect(await sequences.claim(device, 1, impostor)).toEqual({ ok: false, claimedBy: a });
    expect(await sequences.settle(device, 1)).toEqual({ contiguous: 1 });

    await sequences.claim(device, 4, c);
    expect(await sequences.settle(device, 4)).toEqual({ contiguous: 1, gap: { fromSeq: 2, toSeq: 3 } });
    // Claimed but not settled (the hub failed before answering) still counts as missing.
    await sequences.claim(device, 2, b);
    expect(await sequences.contiguous(device)).toBe(1);
    expect(await sequences.settle(device, 2)).toEqual({ contiguous: 2, gap: { fromSeq: 3, toSeq: 3 } });
    await sequences.claim(device, 3, newId());
    expect(await sequences.settle(device, 3)).toEqual({ contiguous: 4 });
  });

  it('stores desired configuration with growing versions next to what the device reported', async () => {
    const shadow = new ConfigShadow(db, logger);
    const device = `kiosk-${backend}-cfg`;
    const config = {
      storeName: 'Store',
      receiptFooter: 'Thanks',
      offlineLimits: { perTransactionFen: 1, perCardPerDayFen: 2, perKioskTotalFen: 3, maxOfflineHours: 4 },
    };
    // Not started: stored, not published.
    expect(await shadow.setDesired(device, config)).toBe(1);
    expect(await shadow.setDesired(device, { ...config, storeName: 'Store 2' })).toBe(2);
    await shadow.recordReported(device, { v: 1, status: 'rejected', version: 2, appliedVersion: 1, reason: 'stale' });
    const state = await shadow.get(device);
    expect(state).toMatchObject({
      deviceId: device,
      desired: { version: 2, config: { ...config, storeName: 'Store 2' } },
      reported: { status: 'rejected', version: 2, appliedVersion: 1, reason: 'stale' },
    });
    expect(new Date(state.desired!.at).getTime()).not.toBeNaN();

    const published: Array<{ topic: string; retain?: boolean; desired: unknown }> = [];
    shadow.start(async (topic, payload, options) => void published.push({ topic, retain: options?.retain, desired: JSON.parse(payload) }));
    await shadow.republish();
    expect(published.filter((message) => message.topic === topics.config(device))).toEqual([
      { topic: topics.config(device), retain: true, desired: { v: 1, version: 2, config: { ...config, storeName: 'Store 2' } } },
    ]);
  });

  it('sends a changed member to the devices that know them, once per version', async () => {
    const created = await ledger.createMember({ name: 'Fan Out', actor: operator });
    const cardUid = newCardUid();
    const { member } = await ledger.bindCard({ memberId: created.memberId, cardUid, actor: operator });
    const sent: Array<{ topic: string; update: MemberUpdate }> = [];
    let wake: () => void = () => undefined;
    const fanout = new MemberFanout({ db, snapshotOf: (uid) => ledger.findMemberByCard(uid), logger, intervalMs: 60_000 });
    fanout.start(async (topic, payload) => {
      sent.push({ topic, update: JSON.parse(payload) as MemberUpdate });
      wake();
    });
    const knows = `kiosk-${backend}-knows`;
    await fanout.seen(knows, member);

    const arrived = new Promise<void>((resolve) => (wake = resolve));
    await ledger.topUpCash({ idempotencyKey: key('fanout'), memberId: member.memberId, amountFen: 800, actor: operator });
    fanout.poke();
    await arrived;
    await fanout.stop();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: topics.member(knows), update: { v: 1, member: { cardUid, balances: { principalFen: 800 } } } });
    expect(sent[0]!.update.member.version).toBeGreaterThan(member.version);

    // Sent means known: the next sweep finds nothing to send.
    const again: string[] = [];
    const quiet = new MemberFanout({ db, snapshotOf: (uid) => ledger.findMemberByCard(uid), logger, intervalMs: 60_000 });
    quiet.start(async (topic) => void again.push(topic));
    quiet.poke();
    await quiet.idle();
    await quiet.stop();
    expect(again).toEqual([]);
  });
});
