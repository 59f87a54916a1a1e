import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import type { ConfigReported, DesiredConfig, DeviceConfig } from '../../shared/contract/payloads.ts';
import { DEFAULT_PROGRAM_RULES, type ProgramRules } from '../../shared/rules/program.ts';
import { InvalidKioskDataError, KioskStore, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { ConfigSync } from '../../device/sync/config-sync.ts';
import { Kiosk, type HubPort, type KioskView } from '../../device/kiosk/kiosk.ts';
import type { BillEvent } from '../../device/kiosk/cash-acceptance.ts';
import { renderTopUpReceipt, type TopUpReceipt } from '../../device/printer/receipt.ts';
import { nextEvent } from '../helpers/events.ts';
import { memberSnapshot } from '../helpers/fixtures.ts';
import { StandInAcceptor } from '../helpers/stand-in-acceptor.ts';

/**
 * Program rules on the kiosk: how they arrive with the configuration (validated, durable, never backwards),
 * and how a cash session is priced with them — the bonus on screen while notes go in, the pricing recorded
 * in each outbox entry, the offline balance and the receipt. Hub link, validator and printer are stand-ins.
 */
const deviceId = 'kiosk-rules-1';
const member = memberSnapshot({ balances: { principalFen: 5_000, bonusFen: 0, points: 30 } });
const deviceConfig: DeviceConfig = {
  storeName: '一号店 Store 1',
  receiptFooter: '谢谢惠顾 Thank you',
  offlineLimits: { perTransactionFen: 50_000, perCardPerDayFen: 100_000, perKioskTotalFen: 500_000, maxOfflineHours: 24 },
};
const withBonus = (topUpBonus: ProgramRules['topUpBonus']): ProgramRules => ({ ...DEFAULT_PROGRAM_RULES, topUpBonus });
const rulesV2 = withBonus([
  { id: 'topup-100', thresholdFen: 10_000, bonusFen: 2_000 },
  { id: 'topup-200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 20 },
  { id: 'topup-300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 50 },
]);

let dir: string;
let store: KioskStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiosk-rules-'));
  store = await KioskStore.open(join(dir, 'kiosk.json'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The MQTT link as ConfigSync sees it: the test delivers desired configurations and reads the reports. */
class StandInLink {
  handler: ((payload: Buffer) => void | Promise<void>) | undefined;
  readonly reports: ConfigReported[] = [];
  handle(topic: string, handler: (payload: Buffer) => void | Promise<void>) {
    expect(topic).toBe(topics.config(deviceId));
    this.handler = handler;
  }
  publishMessage(topic: string, payload: string) {
    expect(topic).toBe(topics.configReported(deviceId));
    this.reports.push(JSON.parse(payload) as ConfigReported);
    return true;
  }
  async deliver(message: unknown): Promise<ConfigReported> {
    await this.handler!(Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)));
    return this.reports.at(-1)!;
  }
}

describe('program rules reach the kiosk with its configuration', () => {
  let link: StandInLink;
  let sync: ConfigSync;
  const desired = (version: number, program?: { version: number; rules: unknown }) =>
    ({ v: 1, version, config: deviceConfig, ...(program ? { program } : {}) }) as DesiredConfig;

  beforeEach(() => {
    link = new StandInLink();
    sync = new ConfigSync({ deviceId, link, store, logger: createLogger('test-config-sync') });
    sync.start();
  });

  it('applies a newer rule set durably, announces it, and reports it next to the configuration', async () => {
    const announced: unknown[] = [];
    sync.on('program', (program) => announced.push(program.version));
    const report = await link.deliver(desired(1, { version: 2, rules: rulesV2 }));
    expect(report).toEqual({ v: 1, status: 'applied', version: 1, appliedVersion: 1, program: { status: 'applied', version: 2, appliedVersion: 2 } });
    expect(announced).toEqual([2]);
    // Survives a restart: the rules are on disk, so offline top-ups are priced with them.
    const reopened = await KioskStore.open(join(dir, 'kiosk.json'));
    expect(reopened.program).toMatchObject({ version: 2, rules: rulesV2 });

    // The retained message again after a reconnect: reported applied, not applied twice.
    expect(await link.deliver(desired(1, { version: 2, rules: rulesV2 }))).toMatchObject({ program: { status: 'applied', version: 2, appliedVersion: 2 } });
    expect(announced).toEqual([2]);
  });

  it('refuses invalid rules with every problem named; the rules in force and the configuration stay', async () => {
    await link.deliver(desired(1, { version: 2, rules: rulesV2 }));
    const bad = { ...withBonus([{ id: 'x', thresholdFen: -1, bonusFen: 1.5 }]), spendingOrder: 'cheapest_first' };
    const report = await link.deliver(desired(2, { version: 3, rules: bad }));
    expect(report).toMatchObject({ status: 'applied', version: 2, appliedVersion: 2, program: { status: 'rejected', version: 3, appliedVersion: 2 } });
    const reason = report.program?.status === 'rejected' ? report.program.reason : '';
    expect(reason).toMatch(/topUpBonus: rule 0 \(x\): thresholdFen/);
    expect(reason).toMatch(/topUpBonus: rule 0 \(x\): bonusFen/);
    expect(reason).toMatch(/spendingOrder/);
    expect(store.program).toMatchObject({ version: 2, rules: rulesV2 });
    expect(store.config?.version).toBe(2);
  });

  it('refuses older rules as stale', async () => {
    await link.deliver(desired(1, { version: 3, rules: rulesV2 }));
    const report = await link.deliver(desired(1, { version: 2, rules: DEFAULT_PROGRAM_RULES }));
    expect(report.program).toMatchObject({ status: 'rejected', version: 2, appliedVersion: 3, reason: expect.stringMatching(/stale/) });
    expect(store.program?.version).toBe(3);
  });

  it.each([
    ['rules that are not an object', { version: 4, rules: ['topup-100'] }],
    ['a version that is not a whole number', { version: '4', rules: rulesV2 }],
    ['an unknown field', { version: 4, rules: rulesV2, extra: true }],
  ])('refuses a malformed rules payload (%s) as a whole; nothing changes', async (_what, program) => {
    await link.deliver(desired(1, { version: 2, rules: rulesV2 }));
    const before = await readFile(join(dir, 'kiosk.json'), 'utf8');
    const report = await link.deliver({ v: 1, version: 2, config: deviceConfig, program });
    expect(report).toMatchObject({ v: 1, status: 'rejected', version: 2, appliedVersion: 1, reason: expect.stringMatching(/program/) });
    expect(await readFile(join(dir, 'kiosk.json'), 'utf8')).toBe(before);
  });

  it('refuses to open a data file whose stored rules are invalid, and opens one written before rules existed', async () => {
    const file = join(dir, 'kiosk.json');
    await store.applyProgram(2, rulesV2);
    const data = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...data, program: { ...data.program, rules: { ...rulesV2, topUpBonus: 'lots' } } }));
    await expect(KioskStore.open(file)).rejects.toThrow(InvalidKioskDataError);
    const { program: _dropped, ...older } = data;
    await writeFile(file, JSON.stringify(older));
    expect((await KioskStore.open(file)).program).toBeNull();
  });
});

class StandInHub extends EventEmitter implements HubPort {
  connected = false;
  readonly published: OutboxEntry[] = [];
  async lookupCard() {
    return { found: true as const, member };
  }
  publish(entry: OutboxEntry) {
    this.published.push(entry);
  }
}

class StandInPrinter extends EventEmitter<{ printed: [TopUpReceipt] }> {
  async printTopUp(receipt: TopUpReceipt) {
    this.emit('printed', receipt);
  }
}

describe('a cash session priced with the program rules', () => {
  let acceptor: StandInAcceptor;
  let printer: StandInPrinter;
  let hub: StandInHub;
  let kiosk: Kiosk;
  let clock: Date;
  let counter = 0;

  beforeEach(async () => {
    clock = new Date('2026-06-01T09:59:58+08:00');
    acceptor = new StandInAcceptor();
    printer = new StandInPrinter();
    hub = new StandInHub();
    kiosk = new Kiosk({ deviceId, storeName: '一号店', store, hub, printer, cashAcceptor: acceptor, logger: createLogger('test'), receiptAckWaitMs: 1, now: () => clock });
    await kiosk.cashAcceptorStarted();
  });

  const member_ = () => kiosk.view().screen as Extract<KioskView['screen'], { name: 'member' }>;
  async function stack(valueFen: number): Promise<OutboxEntry> {
    acceptor.emit('bill-stacked', { valueFen, billType: 1, eventCounter: ++counter } satisfies BillEvent);
    await kiosk.cashAcceptorStarted();
    return store.pending().at(-1)!;
  }

  it('shows the bonus and the next bracket while cash goes in, and records the pricing in each bill', async () => {
    await store.applyProgram(2, rulesV2);
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    expect(member_().offer?.message).toEqual({ zh: '投¥100送20', en: 'Top up ¥100, get ¥20 bonus' });

    const firstAt = clock;
    const first = await stack(10_000);
    expect(member_().offer?.message).toEqual({ zh: '充100送20 · 再投¥100可送50+20积分', en: 'Top up ¥100 get ¥20 · add ¥100 more to get ¥50 + 20 points' });
    expect(first.tx.body.pricing).toEqual({
      rulesVersion: 2, occurredAt: firstAt.toISOString(), sessionCreditedFen: 0, bonusFen: 2_000, bonusPoints: 0, ruleId: 'topup-100',
    });
    expect(first.tx.createdAt).toBe(firstAt.toISOString());

    // The next bill comes later but is priced at the session's instant, with what the session already holds.
    clock = new Date('2026-06-01T10:00:30+08:00');
    const second = await stack(10_000);
    expect(second.tx.body.pricing).toEqual({
      rulesVersion: 2, occurredAt: firstAt.toISOString(), sessionCreditedFen: 10_000, bonusFen: 3_000, bonusPoints: 20, ruleId: 'topup-200',
    });
    expect(second.tx.createdAt).toBe(clock.toISOString());
    expect(kiosk.view().lastTopUp).toMatchObject({ amountFen: 10_000, bonusFen: 3_000, bonusPoints: 20 });
    expect(member_().offer?.message.en).toBe('Top up ¥200 get ¥50 + 20 points · add ¥100 more to get ¥100 + 50 points');

    // Offline (nothing confirmed): the balance view adds principal, bonus and bonus points of both bills.
    expect(member_().balances).toEqual({ principalFen: 25_000, bonusFen: 5_000, points: 50 });
    expect(store.displayBalances(member)).toEqual({ principalFen: 25_000, bonusFen: 5_000, points: 50 });
  });

  it('prints principal, bonus and bonus points on the receipt', async () => {
    await store.applyProgram(2, rulesV2);
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    const printed = nextEvent<TopUpReceipt>(printer, 'printed');
    await stack(20_000);
    const receipt = await printed;
    expect(receipt).toMatchObject({ amountFen: 20_000, bonus: { bonusFen: 5_000, bonusPoints: 20 }, pendingSync: true });
    const text = renderTopUpReceipt(receipt).flatMap((line) => (line.kind === 'text' ? [line.text] : []));
    expect(text).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}本金 Principal +￥200\.00$/),
      expect.stringMatching(/^ {2}赠送 Bonus +\+￥50\.00$/),
      expect.stringMatching(/^ {2}赠送积分 Bonus points +\+20$/),
    ]));
  });

  it('without program rules: no offer, no pricing — no bonus is promised (the hub posts principal only)', async () => {
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    expect(member_().offer).toBeUndefined();
    const entry = await stack(10_000);
    expect(entry.tx.body.pricing).toBeUndefined();
    expect(member_().balances).toEqual({ principalFen: 15_000, bonusFen: 0, points: 30 });
  });

  it('newer rules arriving mid-session price the next bill under them, at its own instant', async () => {
    await store.applyProgram(2, rulesV2);
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    await stack(10_000);
    await store.applyProgram(3, withBonus([{ id: 'big-200', thresholdFen: 20_000, bonusFen: 8_000 }]));
    kiosk.programChanged();
    expect(member_().offer?.message.zh).toBe('再投¥100可送80');
    clock = new Date('2026-06-01T10:05:00+08:00');
    const second = await stack(10_000);
    expect(second.tx.body.pricing).toEqual({
      rulesVersion: 3, occurredAt: clock.toISOString(), sessionCreditedFen: 10_000, bonusFen: 8_000, bonusPoints: 0, ruleId: 'big-200',
    });
    expect(store.cash.session?.pricing).toEqual({ rulesVersion: 3, occurredAt: clock.toISOString() });
  });

  it('a new session (the next tap) starts from nothing', async () => {
    await store.applyProgram(2, rulesV2);
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    await stack(10_000);
    await kiosk.cardTapped({ uid: member.cardUid, verification: 'uid-only' });
    const next = await stack(10_000);
    expect(next.tx.body.pricing).toMatchObject({ sessionCreditedFen: 0, bonusFen: 2_000, ruleId: 'topup-100' });
  });
});
