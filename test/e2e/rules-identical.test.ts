import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { CashTopUp, ConfigReported, DeviceConfig, DeviceTransaction, MemberSnapshot, TopUpPricing, TxAck } from '../../shared/contract/payloads.ts';
import { DEFAULT_PROGRAM_RULES, type ProgramRules } from '../../shared/rules/program.ts';
import { repriceTopUp } from '../../cloud/ledger/topup-pricing.ts';
import { KioskStore, type AppliedProgram, type CashSession, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { HubLink } from '../../device/sync/hub-link.ts';
import { ConfigSync } from '../../device/sync/config-sync.ts';
import { Kiosk } from '../../device/kiosk/kiosk.ts';
import { priceBill } from '../../device/kiosk/session-pricing.ts';
import type { BillEvent } from '../../device/kiosk/cash-acceptance.ts';
import type { TopUpReceipt } from '../../device/printer/receipt.ts';
import { RecordingClient, TestHub } from '../helpers/hub.ts';
import { SimulatedKiosk } from '../helpers/simulated-kiosk.ts';
import { nextEvent } from '../helpers/events.ts';
import { StandInAcceptor } from '../helpers/stand-in-acceptor.ts';
import { MAX_RULES_BYTES } from '../../cloud/program/rules-store.ts';

/**
 * "Kiosk and hub give identical results": a cash session priced by the kiosk (device/kiosk/session-pricing.ts)
 * and re-priced by the hub (cloud/ledger/topup-pricing.ts) agree on principal, bonus, bonus points and rule —
 * first through the pure functions of both code paths, then end to end: a real kiosk store, hub link, config
 * sync and session flow against the real hub (gateway, rules store, configuration shadow, ledger on PGlite).
 */
const EDGE = { cnyStart: '2026-02-01T00:00:00+08:00', cnyEnd: '2026-02-08T00:00:00+08:00' };
const rules: ProgramRules = {
  ...DEFAULT_PROGRAM_RULES,
  topUpBonus: [
    { id: 'base-100', thresholdFen: 10_000, bonusFen: 2_000, validUntil: EDGE.cnyStart },
    { id: 'base-200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 20, validUntil: EDGE.cnyStart },
    { id: 'cny-100', thresholdFen: 10_000, bonusFen: 3_000, validFrom: EDGE.cnyStart, validUntil: EDGE.cnyEnd },
    { id: 'cny-200', thresholdFen: 20_000, bonusFen: 8_000, bonusPoints: 50, validFrom: EDGE.cnyStart, validUntil: EDGE.cnyEnd },
    { id: 'after-100', thresholdFen: 10_000, bonusFen: 2_000, validFrom: EDGE.cnyEnd },
    { id: 'after-300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 100, validFrom: EDGE.cnyEnd },
  ],
};

/** Sessions of bills (fen) around every bracket edge. */
const SESSIONS: number[][] = [
  [9_999], [10_000], [10_001], [19_999], [20_000], [30_000], [29_999, 1], [10_000, 9_999, 1], [5_000, 5_000, 10_000], [50_000, 10_000],
];
/** The instant of each session's first bill: both sides of every window edge. */
const INSTANTS = ['2026-01-31T23:59:59.999+08:00', EDGE.cnyStart, '2026-02-07T23:59:59.999+08:00', EDGE.cnyEnd, '2026-03-01T12:00:00+08:00'];

interface Priced {
  principalFen: number;
  bonusFen: number;
  bonusPoints: number;
  ruleId: string | null;
}

/**
 * The kiosk's computation of a session, bill by bill, with the session bookkeeping the kiosk store does
 * (total so far; pricing fixed by the first bill). Each later bill arrives a second after the one before,
 * so sessions that start just before a window edge end after it.
 */
function kioskSession(program: NonNullable<AppliedProgram>, bills: number[], start: Date): CashTopUp[] {
  let session: Pick<CashSession, 'creditedFen' | 'pricing'> = {};
  return bills.map((amountFen, i) => {
    const now = new Date(start.getTime() + i * 1000);
    const pricing = priceBill(program, session, amountFen, now)!;
    session = { creditedFen: (session.creditedFen ?? 0) + amountFen, pricing: session.pricing ?? { rulesVersion: pricing.rulesVersion, occurredAt: pricing.occurredAt } };
    return { kind: 'cash_topup', memberId: newId(), cardUid: '04A22B1C', amountFen, currency: 'CNY', pricing } satisfies CashTopUp;
  });
}

const promisedBy = (amountFen: number, pricing: TopUpPricing): Priced => ({
  principalFen: amountFen, bonusFen: pricing.bonusFen, bonusPoints: pricing.bonusPoints, ruleId: pricing.ruleId,
});

describe('kiosk and hub produce identical results: the pure functions of both code paths', () => {
  const program = { version: 7, rules, appliedAt: new Date().toISOString() };

  const cases = SESSIONS.flatMap((bills) => INSTANTS.map((at) => [bills, at] as const));
  it.each(cases)('bills %j from %s', (bills, at) => {
    for (const body of kioskSession(program, bills, new Date(at))) {
      const hub = repriceTopUp({ version: 7, rules }, body.amountFen, body.pricing!);
      expect(hub.price).toEqual(promisedBy(body.amountFen, body.pricing!));
      expect(hub.mismatch).toBe(false);
    }
  });

  it('on a random sample of sessions and instants', () => {
    const from = Date.parse('2026-01-25T00:00:00+08:00');
    const until = Date.parse('2026-02-15T00:00:00+08:00');
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: from, max: until }),
        (bills, at) => {
          for (const body of kioskSession(program, bills, new Date(at))) {
            expect(repriceTopUp({ version: 7, rules }, body.amountFen, body.pricing!).price).toEqual(promisedBy(body.amountFen, body.pricing!));
          }
        },
      ),
      { seed: 20260201, numRuns: 500 },
    );
  });

  it('notices a kiosk promise the rules do not give (reported as a mismatch; the hub posts its own result)', () => {
    const body = kioskSession(program, [10_000], new Date(EDGE.cnyStart))[0]!;
    expect(repriceTopUp({ version: 7, rules }, body.amountFen, { ...body.pricing!, bonusFen: 9_000 })).toMatchObject({ mismatch: true, price: { bonusFen: 3_000, ruleId: 'cny-100' } });
  });
});

const deviceId = 'kiosk-rules-e2e';
const deviceConfig: DeviceConfig = {
  storeName: '一号店 Store 1',
  receiptFooter: '谢谢惠顾 Thank you',
  offlineLimits: { perTransactionFen: 100_000, perCardPerDayFen: 10_000_000, perKioskTotalFen: 10_000_000, maxOfflineHours: 168 },
};
const actor = { type: 'operator' as const, id: 'hq-admin' };

describe('kiosk and hub produce identical results: end to end through the real MQTT gateway', () => {
  let hub: TestHub;
  let dir: string;
  let store: KioskStore;
  let link: HubLink;
  let configSync: ConfigSync;
  let kiosk: Kiosk;
  let member: MemberSnapshot;
  let clock = new Date(INSTANTS[0]!);
  let counter = 0;
  let acceptor: StandInAcceptor;
  const printer = { printTopUp: async (_receipt: TopUpReceipt) => {} };
  const logger = createLogger('test-rules-e2e');

  /** The kiosk's session flow on the current link, as after a (re)start of the kiosk. */
  async function startKiosk(): Promise<void> {
    acceptor = new StandInAcceptor();
    kiosk = new Kiosk({ deviceId, storeName: '一号店', store, hub: link, printer, cashAcceptor: acceptor, logger, receiptAckWaitMs: 1, now: () => clock });
    await kiosk.cashAcceptorStarted();
  }

  function connect(): Promise<unknown> {
    link = new HubLink({ url: hub.running.mqttUrl, deviceId, softwareVersion: 'test', store, logger });
    configSync = new ConfigSync({ deviceId, link, store, logger });
    configSync.start();
    const reported = nextEvent(hub.running.sync.config, 'reported', (e: { deviceId: string }) => e.deviceId === deviceId);
    link.start();
    return reported;
  }

  beforeAll(async () => {
    hub = await TestHub.create();
    await hub.start();
    member = await hub.member('王五', '04C3D2E1', 1_000);
    expect((await hub.running.sync.program.publish(rules, actor, 'Spring Festival bonus')).version).toBe(2);
    await hub.running.sync.config.setDesired(deviceId, deviceConfig);
    dir = await mkdtemp(join(tmpdir(), 'rules-e2e-'));
    store = await KioskStore.open(join(dir, 'kiosk.json'));
    await connect();
    expect(store.program).toMatchObject({ version: 2, rules });
    await startKiosk();
  });

  afterAll(async () => {
    await link?.stop();
    await hub?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One session at the kiosk: tap, then the bills one second apart. Resolves with their outbox entries. */
  async function session(bills: number[], start: Date): Promise<OutboxEntry[]> {
    clock = start;
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    const entries: OutboxEntry[] = [];
    for (const [i, valueFen] of bills.entries()) {
      clock = new Date(start.getTime() + i * 1000);
      acceptor.emit('bill-stacked', { valueFen, billType: 1, eventCounter: ++counter } satisfies BillEvent);
      await kiosk.cashAcceptorStarted();
      entries.push(store.pending().at(-1)!);
    }
    return entries;
  }

  /** Resolves once the hub has acknowledged everything in the outbox. */
  async function drained(): Promise<void> {
    while (store.pending().length > 0) await nextEvent(link, 'settled');
  }

  /** What the hub posted for a device transaction: the member's legs, and the rule its reason names. */
  async function posted(txId: string): Promise<Priced> {
    const { rows } = await hub.running.db.query<{ reason: string; kind: string; amount: number | string }>(
      `SELECT t.reason, a.kind, p.amount FROM ledger_transactions t
         JOIN postings p ON p.tx_id = t.id JOIN accounts a ON a.id = p.account_id
        WHERE t.idempotency_key = $1 AND a.member_id IS NOT NULL`,
      [txId],
    );
    expect(rows.length).toBeGreaterThan(0);
    const leg = (kind: string) => rows.filter((r) => r.kind === kind).reduce((sum, r) => sum + Number(r.amount), 0);
    const rule = /bonus rule (\S+) of program rules/.exec(rows[0]!.reason)?.[1] ?? null;
    return { principalFen: leg('stored_principal'), bonusFen: leg('stored_bonus'), bonusPoints: leg('points'), ruleId: rule };
  }

  it('for every bracket edge and window edge, and a random sample, the posted result is the kiosk\'s', async () => {
    const random = fc.sample(
      fc.tuple(fc.array(fc.integer({ min: 1, max: 30_000 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: Date.parse('2026-01-31T00:00:00+08:00'), max: Date.parse('2026-02-09T00:00:00+08:00') })),
      { seed: 42, numRuns: 8 },
    );
    const plan: Array<[number[], Date]> = [
      ...SESSIONS.flatMap((bills) => INSTANTS.map((at) => [bills, new Date(at)] as [number[], Date])),
      ...random.map(([bills, at]) => [bills, new Date(at)] as [number[], Date]),
    ];
    const entries: OutboxEntry[] = [];
    for (const [bills, at] of plan) entries.push(...(await session(bills, at)));
    await drained();

    for (const entry of entries) {
      const { body } = entry.tx;
      expect(store.entry(entry.tx.txId)?.state).toBe('synced');
      expect(body.pricing?.rulesVersion).toBe(2);
      expect(await posted(entry.tx.txId)).toEqual(promisedBy(body.amountFen, body.pricing!));
    }
    expect(hub.running.gateway.counters.anomalies['pricing-mismatch'] ?? 0).toBe(0);
    // And the balances agree: the hub's member is the opening balance plus everything the kiosk showed.
    const hubMember = (await hub.running.memberByCard(member.cardUid))!;
    expect(hubMember.balances).toEqual({
      principalFen: 1_000 + entries.reduce((sum, e) => sum + e.tx.body.amountFen, 0),
      bonusFen: entries.reduce((sum, e) => sum + e.tx.body.pricing!.bonusFen, 0),
      points: member.balances.points + entries.reduce((sum, e) => sum + e.tx.body.pricing!.bonusPoints, 0),
    });
  });

  it('an offline session replayed after new rules were published gets what the member was promised', async () => {
    await link.stop();
    const promo: ProgramRules = { ...rules, topUpBonus: [{ id: 'lean-100', thresholdFen: 10_000, bonusFen: 500 }] };
    expect((await hub.running.sync.program.publish(promo, actor, 'end of promotion')).version).toBe(3);
    expect(await hub.running.sync.config.checkProgram()).toBe(3);

    const offline = await session([10_000, 10_000], new Date('2026-02-03T20:00:00+08:00'));
    expect(offline.map((e) => e.tx.body.pricing)).toMatchObject([
      { rulesVersion: 2, bonusFen: 3_000, ruleId: 'cny-100' },
      { rulesVersion: 2, bonusFen: 5_000, bonusPoints: 50, ruleId: 'cny-200' },
    ]);
    // Offline, the member sees the promise at once: principal and bonus of both bills on top of the cached balance.
    const cached = store.cachedMember(member.cardUid)!.balances;
    expect(kiosk.view().screen).toMatchObject({
      name: 'member', offline: true,
      balances: { principalFen: cached.principalFen + 20_000, bonusFen: cached.bonusFen + 8_000, points: cached.points + 50 },
    });

    // The kiosk restarts and finds the hub again: its outbox goes out first.
    const reported = connect();
    await startKiosk();
    await drained();
    for (const entry of offline) expect(await posted(entry.tx.txId)).toEqual(promisedBy(entry.tx.body.amountFen, entry.tx.body.pricing!));
    // The retained configuration brings version 3 to the kiosk after it reconnected; new sessions use it.
    const { report } = (await reported) as { report: ConfigReported };
    expect(report.program).toEqual({ status: 'applied', version: 3, appliedVersion: 3 });
    const [after] = await session([10_000], new Date('2026-02-03T21:00:00+08:00'));
    expect(after!.tx.body.pricing).toMatchObject({ rulesVersion: 3, bonusFen: 500, ruleId: 'lean-100' });
    await drained();
    expect(await posted(after!.tx.txId)).toEqual({ principalFen: 10_000, bonusFen: 500, bonusPoints: 0, ruleId: 'lean-100' });
  });

  it('cash priced with a rules version the hub does not know is still credited, principal only and flagged; a bill priced by no rules gets principal only', async () => {
    const rogueId = 'kiosk-rules-rogue';
    const rogue = await SimulatedKiosk.connect(hub.running.mqttUrl, rogueId);
    const acks = await RecordingClient.connect(hub.running.mqttUrl, 'test-acks');
    await acks.client.subscribeAsync(topics.txAck(rogueId), { qos: 1 });
    const before = (await hub.running.memberByCard(member.cardUid))!.balances;
    const mismatchesBefore = hub.running.gateway.counters.anomalies['pricing-mismatch'] ?? 0;
    const tx: DeviceTransaction = {
      v: 1, txId: newId(), deviceId: rogueId, seq: 1, createdAt: new Date().toISOString(),
      body: {
        kind: 'cash_topup', memberId: member.memberId, cardUid: member.cardUid, amountFen: 10_000, currency: 'CNY',
        pricing: { rulesVersion: 99, occurredAt: new Date().toISOString(), sessionCreditedFen: 0, bonusFen: 2_000, bonusPoints: 0, ruleId: 'topup-100' },
      },
    };
    try {
      await rogue.raw(topics.tx(rogueId), JSON.stringify(tx));
      const [ack] = await acks.waitFor<TxAck>(topics.txAck(rogueId));
      expect(ack).toMatchObject({ txId: tx.txId, status: 'ok' });
      expect(await posted(tx.txId)).toEqual({ principalFen: 10_000, bonusFen: 0, bonusPoints: 0, ruleId: null });
      expect((await hub.running.memberByCard(member.cardUid))!.balances.principalFen).toBe(before.principalFen + 10_000);
      expect(hub.running.gateway.counters.anomalies['pricing-mismatch'] ?? 0).toBe(mismatchesBefore + 1);

      // A kiosk without program rules (older software, or none received yet) promised no bonus: none is posted.
      const { pricing: _none, ...unpriced } = tx.body;
      const legacy: DeviceTransaction = { ...tx, txId: newId(), seq: 2, body: unpriced };
      await rogue.raw(topics.tx(rogueId), JSON.stringify(legacy));
      const [, legacyAck] = await acks.waitFor<TxAck>(topics.txAck(rogueId), 2);
      expect(legacyAck).toMatchObject({ txId: legacy.txId, status: 'ok' });
      expect(await posted(legacy.txId)).toEqual({ principalFen: 10_000, bonusFen: 0, bonusPoints: 0, ruleId: null });
    } finally {
      await acks.close();
      await rogue.close();
    }
  });

  it('malformed rules change nothing: refused at the hub, and refused by the kiosk when they reach it anyway', async () => {
    const broken = { ...rules, topUpBonus: [{ id: 'neg', thresholdFen: 10_000, bonusFen: -1 }] };
    await expect(hub.running.sync.program.publish(broken, actor, 'typo')).rejects.toMatchObject({ code: 'RULES_INVALID' });
    // Valid, but too big for the configuration message kiosks accept: refused before it could strand them.
    const campaigns = Array.from({ length: 400 }, (_, i) => ({ id: `holiday-campaign-${i}`, multiplierPercent: 200, categories: ['food', 'drink'] }));
    const oversized = { ...rules, earning: { ...rules.earning, campaigns } };
    await expect(hub.running.sync.program.publish(oversized, actor, 'every holiday at once')).rejects.toMatchObject({
      code: 'RULES_INVALID',
      message: expect.stringContaining(`kiosks receive at most ${MAX_RULES_BYTES}`),
    });
    expect((await hub.running.sync.program.current()).version).toBe(3);

    // A retained message from a misbehaving publisher: the kiosk refuses the rules, keeps version 3, and says why.
    const intruder = await RecordingClient.connect(hub.running.mqttUrl, 'test-intruder');
    const reported = nextEvent<{ deviceId: string; report: ConfigReported }>(hub.running.sync.config, 'reported', (e) => e.deviceId === deviceId);
    try {
      await intruder.client.publishAsync(topics.config(deviceId), JSON.stringify({ v: 1, version: 1, config: deviceConfig, program: { version: 4, rules: broken } }), { qos: 1 });
      const { report } = await reported;
      expect(report.program).toMatchObject({ status: 'rejected', version: 4, appliedVersion: 3, reason: expect.stringMatching(/bonusFen/) });
      expect(store.program?.version).toBe(3);
      const state = await hub.running.sync.config.get(deviceId);
      expect(state.program).toMatchObject({ desiredVersion: 3, reported: { status: 'rejected', version: 4, appliedVersion: 3 } });
    } finally {
      await intruder.close();
    }
  });
});
