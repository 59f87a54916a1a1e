import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../../cloud/db/database.ts';
import type { AssembledHub } from '../../cloud/hub.ts';
import { kioskTopUps } from '../../cloud/ledger/kiosk-topups.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { KioskNotices, memberNotices, type NoticeFacts } from '../../cloud/program/member-notices.ts';
import { RulesStore, type PublishedRules } from '../../cloud/program/rules-store.ts';
import { recordQualifyingSpend } from '../../cloud/program/tiers.ts';
import { cardLookups, kioskMemberReader } from '../../cloud/sync/card-lookups.ts';
import type { DeviceSync } from '../../cloud/sync/index.ts';
import { decodePayload } from '../../shared/contract/decode.ts';
import { MemberSnapshot, type MemberNotice } from '../../shared/contract/payloads.ts';
import { createLogger } from '../../shared/logger.ts';
import { DEFAULT_PROGRAM_RULES } from '../../shared/rules/program.ts';
import type { LotBalance } from '../../shared/rules/points-expiry.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { HubLink } from '../../device/sync/hub-link.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { BACKENDS, key, newCardNumber, newCardUid, useDatabases, testLedger } from './support.ts';
import { bindCard } from '../../cloud/cards/index.ts';

const databases = useDatabases();
const logger = createLogger('test-member-notices');
const actor: Actor = { type: 'operator', id: 'notices-test' };
const DAY = 86_400_000;
const KIOSK = { deviceId: 'kiosk-notices', logger };

/** A kiosk's card lookup as the hub answers it, with `notices`; undefined for an unknown card. */
async function lookUp(db: Queryable, notices: KioskNotices, card: { cardUid: string } | { cardNumber: string }): Promise<MemberSnapshot | undefined> {
  const lookups = cardLookups(kioskMemberReader(db, notices), { seen: () => {} });
  try {
    return (await lookups.answer({ v: 1, correlationId: 'c-1', ...card }, KIOSK)) as MemberSnapshot;
  } catch (error) {
    if ((error as { code?: string }).code === 'CARD_NOT_FOUND') return undefined;
    throw error;
  }
}

/** 12:00 on 15 Dec 2026 in Shanghai. */
const AT = new Date('2026-12-15T04:00:00Z');
/** Midnight starting 1 Jan 2027 in Shanghai: end-of-year points expire here, so their last day is 31 Dec. */
const NEW_YEAR_SHANGHAI = new Date('2026-12-31T16:00:00Z');

/** Gold from 1 Jan 2026 in Shanghai, retained 365 days: the review from 1 Jan 2027 drops it; 31 Dec is the last day. */
const GOLD_SINCE = new Date('2025-12-31T16:00:00Z');

const progressToGold: MemberNotice = { kind: 'tier_progress', zh: '再消费¥1200.00升级金卡', en: 'Spend ¥1200.00 more to reach Gold' };
const expiring300: MemberNotice = { kind: 'points_expiring', zh: '您有 300 积分将于 12月31日 到期', en: '300 points expire on 31 Dec' };

describe('member notices (pure)', () => {
  const lot = (remaining: number, expiresAt: Date | null, awardOrder = 1): LotBalance => ({
    id: String(awardOrder), remaining, expiresAt: expiresAt?.getTime() ?? null, awardOrder,
  });
  const facts = (overrides: Partial<NoticeFacts>): NoticeFacts => ({
    tierState: { tier: 'silver', since: new Date('2026-06-01T00:00:00Z') },
    spendFen: 380_000,
    lots: [],
    timeZone: 'Asia/Shanghai',
    ...overrides,
  });

  it.each<[string, Partial<NoticeFacts>, Date, MemberNotice[]]>([
    ['progress to the next tier', {}, AT, [progressToGold]],
    ['progress from the lowest tier with no spend', { tierState: { tier: 'standard', since: new Date('2026-01-01') }, spendFen: 0 }, AT,
      [{ kind: 'tier_progress', zh: '再消费¥1000.00升级银卡', en: 'Spend ¥1000.00 more to reach Silver' }]],
    ['nothing at the top tier with nothing expiring', { tierState: { tier: 'diamond', since: new Date('2026-06-01') }, spendFen: 2_000_000, lots: [lot(500, null)] }, AT, []],
    ['a tier at risk instead of progress', { tierState: { tier: 'gold', since: GOLD_SINCE }, spendFen: 100_000 }, AT,
      [{ kind: 'tier_at_risk', zh: '再消费¥4000.00保级金卡（12月31日前）', en: 'Spend ¥4000.00 more by 31 Dec to keep Gold' }]],
    ['no warning while the deadline is more than warningDays away', { tierState: { tier: 'gold', since: GOLD_SINCE }, spendFen: 100_000 },
      new Date('2026-11-15T04:00:00Z'), [{ kind: 'tier_progress', zh: '再消费¥19000.00升级钻石', en: 'Spend ¥19000.00 more to reach Diamond' }]],
    ['the soonest batch of expiring points, lots of one instant summed', {
      lots: [lot(250, NEW_YEAR_SHANGHAI, 1), lot(50, NEW_YEAR_SHANGHAI, 2), lot(80, new Date('2027-02-01T00:00:00Z'), 3), lot(10, null, 4)],
    }, AT, [progressToGold, expiring300]],
    ['points expiring in the new year with the year shown, one point', { lots: [lot(1, new Date('2027-01-15T16:00:00Z'))] }, new Date('2026-12-20T04:00:00Z'),
      [progressToGold, { kind: 'points_expiring', zh: '您有 1 积分将于 2027年1月15日 到期', en: '1 point expires on 15 Jan 2027' }]],
    ['nothing for points expiring after the 30-day look-ahead or already due', { lots: [lot(80, new Date(AT.getTime() + 31 * DAY)), lot(5, AT)] }, AT, [progressToGold]],
    ['the day in the member\'s store zone', { lots: [lot(300, NEW_YEAR_SHANGHAI)], timeZone: 'Pacific/Auckland' }, AT,
      [progressToGold, { kind: 'points_expiring', zh: '您有 300 积分将于 2027年1月1日 到期', en: '300 points expire on 1 Jan 2027' }]],
  ])('%s', (_label, overrides, at, expected) => {
    const notices = memberNotices(DEFAULT_PROGRAM_RULES, facts(overrides), at);
    expect(notices).toEqual(expected);
    // Whatever the hub computes fits the contract.
    const snapshot = { memberId: '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b', displayName: 'x', tier: 'silver', cardUid: '04A22B1C',
      balances: { principalFen: 0, bonusFen: 0, points: 0 }, notices, version: 1, asOf: at.toISOString() };
    expect(decodePayload(MemberSnapshot, JSON.stringify(snapshot)).ok).toBe(true);
  });
});

/** Counts the queries made through it. */
function counting(db: Database): { q: Queryable; count: () => number } {
  let n = 0;
  return {
    q: { query: (sql, params) => ((n += 1), db.query(sql, params)), exec: (sql) => db.exec(sql) },
    count: () => n,
  };
}

describe.each(BACKENDS)('member notices on the snapshots kiosks get (%s)', (backend) => {
  let db: Database;
  let ledger: Ledger;
  let defaults: PublishedRules;
  let shortWindow: PublishedRules;
  const notices = (program: PublishedRules, enabled = true) =>
    new KioskNotices({ program: { current: async () => program }, logger, enabled, now: () => AT });

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
    const rules = new RulesStore(db);
    defaults = await rules.current();
    // Tier spend counted over 90 days only, so a gold member from January has lost it by December.
    shortWindow = await rules.publish({ ...DEFAULT_PROGRAM_RULES, tiers: { ...DEFAULT_PROGRAM_RULES.tiers, spendWindowDays: 90 } }, actor, 'short window');
    await db.query(`INSERT INTO regions (id, name) VALUES ('east', 'East')`);
    await db.query(`INSERT INTO stores (id, region_id, name, kind, time_zone) VALUES ('sh-1', 'east', 'Shanghai 1', 'direct', 'Asia/Shanghai'), ('akl-1', 'east', 'Auckland 1', 'direct', 'Pacific/Auckland')`);
  });

  async function memberWithCard(homeStoreId = 'sh-1', cardNumber?: string): Promise<{ memberId: string; cardUid: string }> {
    const { memberId } = await ledger.createMember({ name: '李雷', actor, homeStoreId });
    const cardUid = newCardUid();
    await bindCard(db, ledger, { memberId, cardUid, actor, ...(cardNumber ? { cardNumber } : {}) });
    return { memberId, cardUid };
  }

  async function spend(memberId: string, fen: number, at: Date, program: PublishedRules): Promise<void> {
    const { txId } = await ledger.topUpCash({ idempotencyKey: key('tx'), memberId, actor, amountFen: 100 });
    await db.transaction((tx) => recordQualifyingSpend(tx, { memberId, txId, amountFen: fen }, { program, at, actor, reason: 'test purchase' }));
  }

  /** 300 bonus points with a top-up, expiring at the end of 2026 in Shanghai. */
  async function pointsExpiringAtNewYear(memberId: string): Promise<void> {
    await ledger.topUpCash({
      idempotencyKey: key('topup'), memberId, actor, amountFen: 10_000, at: new Date(AT.getTime() - 5 * DAY),
      bonusRules: [{ id: 'pts', thresholdFen: 10_000, bonusFen: 0, bonusPoints: 300 }],
      pointsExpiry: { kind: 'end_of_year', timeZone: 'Asia/Shanghai' },
    });
  }

  it('a card lookup carries tier progress and expiring points, read by member id from their owners', async () => {
    const cardNumber = newCardNumber();
    const { memberId, cardUid } = await memberWithCard('sh-1', cardNumber);
    await spend(memberId, 380_000, new Date(AT.getTime() - DAY), defaults);
    await pointsExpiringAtNewYear(memberId);

    const member = await lookUp(db, notices(defaults), { cardUid });
    expect(member).toMatchObject({ memberId, tier: expect.any(String), notices: [progressToGold, expiring300] });
    expect(decodePayload(MemberSnapshot, JSON.stringify(member)).ok).toBe(true);
    // A magnetic-stripe swipe finds the member by card number, with the same notices.
    expect((await lookUp(db, notices(defaults), { cardNumber }))?.notices).toEqual([progressToGold, expiring300]);

    // One statement, one round trip: card, member, balances, tier and the facts behind the notices, each part
    // written by the module that owns its tables.
    const { q, count } = counting(db);
    expect(await lookUp(q, notices(defaults), { cardUid })).toMatchObject({ memberId, tier: 'silver', notices: [progressToGold, expiring300] });
    expect(count()).toBe(1);
  });

  it('warns a member whose tier is at risk, in the zone of their home store', async () => {
    const { memberId, cardUid } = await memberWithCard('akl-1');
    // Gold from 1 Jan 2026 01:00 in Auckland (UTC+13), retained 365 days: until 1 Jan 2027 01:00 there, so 1 Jan
    // is the last day (in Shanghai it would still be 31 Dec).
    await spend(memberId, 500_000, new Date('2025-12-31T12:00:00Z'), shortWindow);
    const member = await lookUp(db, notices(shortWindow), { cardUid });
    expect(member?.notices).toEqual([
      { kind: 'tier_at_risk', zh: '再消费¥5000.00保级金卡（2027年1月1日前）', en: 'Spend ¥5000.00 more by 1 Jan 2027 to keep Gold' },
    ]);
  });

  it('sends an empty list when there is nothing to say, and no list when notices are off or fail', async () => {
    const { memberId, cardUid } = await memberWithCard();
    await spend(memberId, 2_000_000, new Date(AT.getTime() - DAY), defaults);
    expect((await lookUp(db, notices(defaults), { cardUid }))?.notices).toEqual([]);

    const off = await lookUp(db, notices(defaults, false), { cardUid });
    expect(off).toBeDefined();
    expect(off).not.toHaveProperty('notices');

    // The rules cannot be read: the member still gets their balances, just without notices.
    const broken = new KioskNotices({ program: { current: () => Promise.reject(new Error('database gone')) }, logger, enabled: true });
    const member = await lookUp(db, broken, { cardUid });
    expect(member).toMatchObject({ memberId });
    expect(member).not.toHaveProperty('notices');
    expect(await lookUp(db, notices(defaults), { cardUid: newCardUid() })).toBeUndefined();
  });

  it('leaves out a notice too long for kiosks instead of making them refuse the snapshot', async () => {
    const { cardUid } = await memberWithCard();
    const tiers = DEFAULT_PROGRAM_RULES.tiers.tiers.map((t) => (t.id === 'silver' ? { ...t, nameEn: 'Silver'.repeat(40) } : t));
    const longNames = { ...defaults, rules: { ...DEFAULT_PROGRAM_RULES, tiers: { ...DEFAULT_PROGRAM_RULES.tiers, tiers } } };
    const member = await lookUp(db, notices(longNames), { cardUid });
    expect(member?.notices).toEqual([]);
    expect(decodePayload(MemberSnapshot, JSON.stringify(member)).ok).toBe(true);
  });

  it('transaction acks carry no notices (the kiosk keeps what it shows)', async () => {
    const { memberId, cardUid } = await memberWithCard();
    const transaction = { v: 1, txId: key('kiosk-tx'), seq: 1, deviceId: KIOSK.deviceId, occurredAt: AT.toISOString(), body: { kind: 'cash_topup', memberId, cardUid, amountFen: 100 } };
    const write = await kioskTopUps(ledger, new RulesStore(db)).prepareBatch([transaction], KIOSK);
    const [outcome] = await db.transaction((tx) => write([transaction], { tx, logger }));
    expect(outcome).toMatchObject({ status: 'applied', member: { memberId } });
    expect(outcome).not.toHaveProperty('member.notices');
  });
});

describe('member notices over MQTT: card lookup and member update', () => {
  let db: Database;
  let ledger: Ledger;
  let broker: EmbeddedBroker;
  let hub: AssembledHub;
  let sync: DeviceSync;
  let kiosk: { dir: string; store: KioskStore; link: HubLink };

  beforeAll(async () => {
    db = await databases.open('pglite');
    ledger = await testLedger(db);
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
    hub = await assembleTestHub(db, { logger, mqtt: broker.link, clock: () => AT, config: { kioskNotices: true } });
    await hub.start();
    sync = hub.sync.sync;
    const dir = await mkdtemp(join(tmpdir(), 'mk-notices-kiosk-'));
    const store = await KioskStore.open(join(dir, 'kiosk.json'));
    const link = new HubLink({ url: broker.url, deviceId: 'kiosk-notices', softwareVersion: 'test', store, logger });
    kiosk = { dir, store, link };
    const connected = once(link, 'connected');
    link.start();
    await connected;
  });

  afterAll(async () => {
    await kiosk?.link.stop();
    if (kiosk) await rm(kiosk.dir, { recursive: true, force: true });
    await hub?.stop();
    await broker?.close();
  });

  it('the kiosk caches the notices of a lookup and gets fresh ones with a member update', async () => {
    const { memberId } = await ledger.createMember({ name: '韩梅梅', actor });
    const cardUid = newCardUid();
    await bindCard(db, ledger, { memberId, cardUid, actor });
    await spend(memberId, 380_000);

    const lookup = await kiosk.link.lookupCard({ cardUid });
    expect(lookup).toMatchObject({ found: true, member: { memberId, notices: [progressToGold] } });
    expect(kiosk.store.cachedMember(cardUid)?.notices).toEqual([progressToGold]);

    const update = once(kiosk.link, 'member');
    await ledger.topUpCash({
      idempotencyKey: key('topup'), memberId, actor, amountFen: 10_000, at: new Date(AT.getTime() - 5 * DAY),
      bonusRules: [{ id: 'pts', thresholdFen: 10_000, bonusFen: 0, bonusPoints: 300 }],
      pointsExpiry: { kind: 'end_of_year', timeZone: 'Asia/Shanghai' },
    });
    sync.members.poke();
    const [member] = (await update) as [MemberSnapshot];
    expect(member.notices).toEqual([progressToGold, expiring300]);
  });

  async function spend(memberId: string, fen: number): Promise<void> {
    const { txId } = await ledger.topUpCash({ idempotencyKey: key('tx'), memberId, actor, amountFen: 100 });
    const program = await new RulesStore(db).current();
    await db.transaction((tx) => recordQualifyingSpend(tx, { memberId, txId, amountFen: fen }, { program, at: new Date(AT.getTime() - DAY), actor, reason: 'test purchase' }));
  }
});
