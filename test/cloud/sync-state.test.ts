import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import { ConfigShadow, DEFAULT_DEVICE_CONFIG, DeviceSequences, MemberFanout, type ProgramSource } from '../../cloud/sync/index.ts';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { DeviceConfig, DeviceStatus, MemberUpdate } from '../../shared/contract/payloads.ts';
import { DEFAULT_PROGRAM_RULES } from '../../shared/rules/program.ts';
import { BACKENDS, key, newCardUid, useDatabases, testLedger } from './support.ts';
import { memberByCard, bindCard } from '../../cloud/cards/index.ts';

const databases = useDatabases();
const logger = createLogger('test-sync-state');
const operator = { type: 'operator' as const, id: 'test-operator' };
const config: DeviceConfig = {
  storeName: 'Store',
  receiptFooter: 'Thanks',
  offlineLimits: { perTransactionFen: 1, perCardPerDayFen: 2, perKioskTotalFen: 3, maxOfflineHours: 4 },
};
const status = (deviceId: string, state: DeviceStatus['state'] = 'online'): DeviceStatus => ({ v: 1, deviceId, state, at: new Date().toISOString() });

/** What a shadow published, decoded; `publish` is what it is started with. */
function recorder() {
  const published: Array<{ topic: string; retain?: boolean; desired: unknown }> = [];
  const publish = async (topic: string, payload: string, options?: { retain?: boolean }) =>
    void published.push({ topic, retain: options?.retain, desired: JSON.parse(payload) });
  return { published, publish };
}

describe.each(BACKENDS)('device sync state on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
  });

  it('claims sequence numbers, refuses a second claimant, and walks the contiguous mark over settled ones', async () => {
    const sequences = new DeviceSequences(db);
    const device = `kiosk-${backend}-seq`;
    // As a batch answers one transaction: claim its number and advance the mark, in one database transaction.
    const answer = (seq: number, txId: string) =>
      db.transaction(async (tx) => {
        const [claim] = await sequences.claimAll(tx, [{ deviceId: device, seq, txId }]);
        // A refused claim settles nothing: the gateway advances marks over its successful claims only.
        return { claim, mark: (await sequences.advanceAll(tx, claim!.ok ? [{ deviceId: device, seq }] : [])).get(device) };
      });
    const [a, b, c, impostor] = [newId(), newId(), newId(), newId()];
    expect(await answer(1, a)).toEqual({ claim: { ok: true }, mark: { contiguous: 1 } });
    expect(await answer(1, a)).toEqual({ claim: { ok: true }, mark: { contiguous: 1 } });
    expect((await answer(1, impostor)).claim).toEqual({ ok: false, claimedBy: a });

    expect((await answer(4, c)).mark).toEqual({ contiguous: 1, gap: { fromSeq: 2, toSeq: 3 } });
    // A claim left unsettled by an older hub still counts as missing, until its own transaction comes again.
    await db.query('INSERT INTO device_seqs (device_id, seq, tx_id, settled) VALUES ($1, 2, $2, false)', [device, b]);
    expect(await sequences.contiguous(device)).toBe(1);
    expect((await answer(2, impostor)).claim).toEqual({ ok: false, claimedBy: b });
    expect(await answer(2, b)).toEqual({ claim: { ok: true }, mark: { contiguous: 2, gap: { fromSeq: 3, toSeq: 3 } } });
    expect((await answer(3, newId())).mark).toEqual({ contiguous: 4 });
    // Several uses in one call: the first txId to name a number claims it, later copies of it replay.
    const [d, e] = [newId(), newId()];
    const claims = await db.transaction((tx) =>
      sequences.claimAll(tx, [
        { deviceId: device, seq: 5, txId: d },
        { deviceId: device, seq: 5, txId: e },
        { deviceId: device, seq: 5, txId: d },
        { deviceId: device, seq: 1, txId: a },
      ]),
    );
    expect(claims).toEqual([{ ok: true }, { ok: false, claimedBy: d }, { ok: true }, { ok: true }]);
  });

  it('moves the mark over a whole batch of numbers, and over a hole once it is filled out of order', async () => {
    const sequences = new DeviceSequences(db);
    const [one, two] = [`kiosk-${backend}-batch-1`, `kiosk-${backend}-batch-2`];
    const settle = (uses: Array<[string, number]>) =>
      db.transaction(async (tx) => {
        const named = uses.map(([deviceId, seq]) => ({ deviceId, seq, txId: `${deviceId}-${seq}` }));
        expect((await sequences.claimAll(tx, named)).every((claim) => claim.ok)).toBe(true);
        return Object.fromEntries(await sequences.advanceAll(tx, named));
      });
    // Two devices in one batch, one of them with a copy (a deferred duplicate names the same number) and a hole.
    expect(await settle([[one, 1], [two, 2], [one, 2], [one, 2], [one, 3], [one, 5], [two, 1]])).toEqual({
      [one]: { contiguous: 3, gap: { fromSeq: 4, toSeq: 4 } },
      [two]: { contiguous: 2 },
    });
    // The hole filled later: 5 was settled past the mark before, so the numbers are walked.
    expect(await settle([[one, 4]])).toEqual({ [one]: { contiguous: 5 } });
    expect(await settle([[one, 6], [two, 3]])).toEqual({ [one]: { contiguous: 6 }, [two]: { contiguous: 3 } });
    expect([await sequences.contiguous(one), await sequences.contiguous(two)]).toEqual([6, 3]);
  });

  it('stores desired configuration with growing versions next to what the device reported', async () => {
    const shadow = new ConfigShadow(db, logger);
    const device = `kiosk-${backend}-cfg`;
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

    const { published, publish } = recorder();
    shadow.start(publish);
    await shadow.republish();
    expect(published.filter((message) => message.topic === topics.config(device))).toEqual([
      { topic: topics.config(device), retain: true, desired: { v: 1, version: 2, config: { ...config, storeName: 'Store 2' } } },
    ]);
  });

  it('gives a device that comes online without a desired configuration the default one with the program rules, once', async () => {
    let program = { version: 3, rules: DEFAULT_PROGRAM_RULES };
    const source: ProgramSource = { current: async () => program };
    const shadow = new ConfigShadow(db, logger, source);
    const { published, publish } = recorder();
    shadow.start(publish);
    const [fresh, configured] = [`kiosk-${backend}-fresh`, `kiosk-${backend}-configured`];
    try {
      await shadow.setDesired(configured, config);
      published.length = 0;

      // Offline (a Last Will) or naming another device (forged, misrouted): nothing is created.
      await shadow.onStatus(fresh, status(fresh, 'offline'));
      await shadow.onStatus(fresh, status('someone-else'));
      expect((await shadow.get(fresh)).desired).toBeNull();

      await shadow.onStatus(fresh, status(fresh));
      await shadow.onStatus(fresh, status(fresh));
      await shadow.onStatus(configured, status(configured));
      const withRules = { version: 3, rules: DEFAULT_PROGRAM_RULES };
      expect(published).toEqual([
        { topic: topics.config(fresh), retain: true, desired: { v: 1, version: 1, config: DEFAULT_DEVICE_CONFIG, program: withRules } },
      ]);
      expect((await shadow.get(fresh)).desired).toMatchObject({ version: 1, config: DEFAULT_DEVICE_CONFIG });
      expect((await shadow.get(configured)).desired).toMatchObject({ version: 1, config });

      // After a hub restart the device is found configured: nothing is created or sent again.
      expect(await new ConfigShadow(db, logger, source).ensureDesired(fresh)).toBe(false);
      // Every newly published rules version reaches it, under its unchanged configuration version.
      program = { version: 4, rules: { ...DEFAULT_PROGRAM_RULES, topUpBonus: [] } };
      published.length = 0;
      expect(await shadow.checkProgram()).toBe(4);
      expect(published.find((message) => message.topic === topics.config(fresh))).toEqual({
        topic: topics.config(fresh),
        retain: true,
        desired: { v: 1, version: 1, config: DEFAULT_DEVICE_CONFIG, program },
      });
      // An operator's configuration is simply the next version.
      expect(await shadow.setDesired(fresh, config)).toBe(2);
    } finally {
      shadow.stop();
    }
  });

  it('never puts the default over an operator configuration, however the two race (two hub instances)', async () => {
    const [a, b] = [new ConfigShadow(db, logger), new ConfigShadow(db, logger)];
    const both = `kiosk-${backend}-race-default`;
    const created = await Promise.all([a.ensureDesired(both), b.ensureDesired(both)]);
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await a.get(both)).toMatchObject({ desired: { version: 1, config: DEFAULT_DEVICE_CONFIG } });

    for (let i = 0; i < 5; i += 1) {
      const device = `kiosk-${backend}-race-put-${i}`;
      const [, version] = await Promise.all([a.ensureDesired(device), b.setDesired(device, config)]);
      // Whichever came first, the operator's configuration is the one in force: as version 1, or 2 after the default.
      expect(await a.get(device)).toMatchObject({ desired: { version, config } });
    }
  });

  it('sends a changed member to the devices that know them, once per version', async () => {
    const created = await ledger.createMember({ name: 'Fan Out', actor: operator });
    const cardUid = newCardUid();
    const { member } = await bindCard(db, ledger, { memberId: created.memberId, cardUid, actor: operator });
    const sent: Array<{ topic: string; update: MemberUpdate }> = [];
    let wake: () => void = () => undefined;
    const fanout = new MemberFanout({ db, snapshotOf: (uid) => memberByCard(db, ledger, uid), logger, intervalMs: 60_000 });
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
    const quiet = new MemberFanout({ db, snapshotOf: (uid) => memberByCard(db, ledger, uid), logger, intervalMs: 60_000 });
    quiet.start(async (topic) => void again.push(topic));
    quiet.poke();
    await quiet.idle();
    await quiet.stop();
    expect(again).toEqual([]);
  });
  it('reads seconds of changes each sweep and minutes once every 60 sweeps, so a commit that took a minute still goes out', async () => {
    const created = await ledger.createMember({ name: 'Slow Commit', actor: operator });
    const cardUid = newCardUid();
    const { member } = await bindCard(db, ledger, { memberId: created.memberId, cardUid, actor: operator });
    const sent: string[] = [];
    const fanout = new MemberFanout({ db, snapshotOf: (uid) => memberByCard(db, ledger, uid), logger, intervalMs: 60_000 });
    fanout.start(async (topic) => void sent.push(topic));
    const knows = `kiosk-${backend}-slow`;
    fanout.seen(knows, member);
    fanout.poke(); // the first sweep is a wide one
    await fanout.idle();
    // A change whose transaction started a minute before it committed: its updated_at is a minute old.
    await ledger.topUpCash({ idempotencyKey: key('slow'), memberId: member.memberId, amountFen: 100, actor: operator });
    await db.query(`UPDATE members SET updated_at = now() - interval '60 seconds' WHERE id = $1`, [member.memberId]);
    const sweeps = async (n: number) => {
      for (let i = 0; i < n; i++) {
        fanout.poke();
        await fanout.idle();
      }
    };
    await sweeps(59);
    expect(sent).toEqual([]);
    await sweeps(1);
    await fanout.stop();
    expect(sent).toEqual([topics.member(knows)]);
  });

  it('notes a lookup in memory only, and writes the notes of many lookups in one go before the next comparison', async () => {
    const created = await ledger.createMember({ name: 'Noted', actor: operator });
    const cardUid = newCardUid();
    const { member } = await bindCard(db, ledger, { memberId: created.memberId, cardUid, actor: operator });
    const devices = [`kiosk-${backend}-noted-1`, `kiosk-${backend}-noted-2`];
    const known = async () =>
      (await db.query<{ device_id: string; known_version: number }>('SELECT device_id, known_version FROM device_members WHERE card_uid = $1 ORDER BY device_id', [cardUid])).rows;
    const sent: string[] = [];
    let wake: () => void = () => undefined;
    const fanout = new MemberFanout({ db, snapshotOf: (uid) => memberByCard(db, ledger, uid), logger, intervalMs: 60_000 });
    fanout.start(async (topic) => {
      sent.push(topic);
      if (sent.length === devices.length) wake();
    });
    for (const device of devices) fanout.seen(device, member);
    fanout.seen(devices[0]!, { ...member, version: member.version - 1 }); // an older note never lowers the version
    expect(await known()).toEqual([]);

    const arrived = new Promise<void>((resolve) => (wake = resolve));
    await ledger.topUpCash({ idempotencyKey: key('noted'), memberId: member.memberId, amountFen: 100, actor: operator });
    fanout.poke();
    await arrived;
    await fanout.stop();
    expect(sent.sort()).toEqual(devices.map((device) => topics.member(device)).sort());
    // stop() wrote what the sweep sent: both devices now know the new version.
    const { version } = await ledger.getMember(member.memberId);
    expect(version).toBeGreaterThan(member.version);
    expect(await known()).toEqual(devices.map((device_id) => ({ device_id, known_version: version })));
  });
});
