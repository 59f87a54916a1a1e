import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_CONFIG } from '../../cloud/sync/index.ts';
import type { ConfigReported, DeviceConfig, MemberSnapshot } from '../../shared/contract/payloads.ts';
import { DEFAULT_PROGRAM_RULES, type ProgramRules } from '../../shared/rules/program.ts';
import type { AppliedProgram, OutboxEntry } from '../../device/store/kiosk-store.ts';
import { ConfigSync } from '../../device/sync/config-sync.ts';
import { priceBill, sessionOffer } from '../../device/kiosk/session-pricing.ts';
import { offerMessage } from '../../device/kiosk/messages.ts';
import { createLogger } from '../../shared/logger.ts';
import { nextEvent } from '../helpers/events.ts';
import { linkKiosk, SyncHub, type LinkedKiosk } from '../helpers/sync-hub.ts';

const id = 'kiosk-unconfigured-1';
const actor = { type: 'operator' as const, id: 'hq-admin' };
const storeConfig: DeviceConfig = {
  storeName: '三号店 Store 3',
  receiptFooter: '谢谢惠顾 Thank you',
  offlineLimits: { perTransactionFen: 20_000, perCardPerDayFen: 100_000, perKioskTotalFen: 500_000, maxOfflineHours: 24 },
};

/**
 * Program rules ride on the desired device configuration. A kiosk that no operator has configured must still get
 * them — or it offers no 充100送20 and the hub posts principal only — so the hub gives every device it sees online
 * without a desired configuration the default one, with the current rules, and every later rules version.
 * Real gateway, shadow and rules store at the hub (PGlite, embedded broker); real hub link, config sync and store
 * at the kiosk.
 */
describe('a kiosk that no operator has configured gets the program rules', () => {
  let hub: SyncHub;
  let kiosk: LinkedKiosk;
  let configSync: ConfigSync;
  let member: MemberSnapshot;

  beforeAll(async () => {
    hub = await SyncHub.start();
    member = await hub.member('孙七', '04D1E2F3');
  });

  afterAll(async () => {
    await kiosk?.stop();
    await hub?.stop();
  });

  it('receives the default configuration and the current rules when it first comes online', async () => {
    expect((await hub.sync.config.get(id)).desired).toBeNull();
    const reported = nextEvent<{ deviceId: string; report: ConfigReported }>(hub.sync.config, 'reported', (e) => e.deviceId === id);
    let program: Promise<NonNullable<AppliedProgram>> | undefined;
    kiosk = await linkKiosk(hub, id, ({ link, store }) => {
      configSync = new ConfigSync({ deviceId: id, link, store, logger: createLogger('test-config-sync') });
      program = nextEvent(configSync, 'program');
      configSync.start();
    });

    expect(await program).toMatchObject({ version: 1, rules: DEFAULT_PROGRAM_RULES });
    expect((await reported).report).toEqual({
      v: 1, status: 'applied', version: 1, appliedVersion: 1, program: { status: 'applied', version: 1, appliedVersion: 1 },
    });
    expect(kiosk.store.config).toMatchObject({ version: 1, config: DEFAULT_DEVICE_CONFIG });
    expect(await hub.sync.config.get(id)).toMatchObject({
      desired: { version: 1, config: DEFAULT_DEVICE_CONFIG },
      reported: { status: 'applied', version: 1, appliedVersion: 1 },
      program: { desiredVersion: 1, reported: { status: 'applied', version: 1, appliedVersion: 1 } },
    });
  });

  it('offers 充100送20 and the hub posts the bonus it promised', async () => {
    const now = new Date();
    const offer = sessionOffer(kiosk.store.program, undefined, now);
    expect(offer && offerMessage(offer)?.zh).toMatch(/送/);
    const pricing = priceBill(kiosk.store.program, undefined, 10_000, now);
    expect(pricing).toMatchObject({ rulesVersion: 1, bonusFen: 2_000, ruleId: 'topup-100' });

    const entry = await kiosk.store.recordCashTopUp({ deviceId: id, member, amountFen: 10_000, at: now, pricing });
    const settled = nextEvent<OutboxEntry>(kiosk.link, 'settled', (e) => e.tx.txId === entry.tx.txId);
    kiosk.link.publish(entry);
    expect(await settled).toMatchObject({ state: 'synced' });
    expect((await hub.memberByCard(member.cardUid))!.balances).toMatchObject({ principalFen: 10_000, bonusFen: 2_000 });
    expect(hub.gateway.counters.anomalies['pricing-mismatch'] ?? 0).toBe(0);
  });

  it('receives every newly published rules version, and an operator configuration becomes the next version', async () => {
    const rules: ProgramRules = { ...DEFAULT_PROGRAM_RULES, topUpBonus: [{ id: 'topup-100-plus', thresholdFen: 10_000, bonusFen: 3_000 }] };
    const program = nextEvent(configSync, 'program');
    expect((await hub.sync.program.publish(rules, actor, 'bigger top-up bonus')).version).toBe(2);
    expect(await hub.sync.config.checkProgram()).toBe(2);
    expect(await program).toMatchObject({ version: 2, rules });

    const applied = nextEvent(configSync, 'applied');
    expect(await hub.sync.config.setDesired(id, storeConfig)).toBe(2);
    expect(await applied).toMatchObject({ version: 2, config: storeConfig });
    expect(kiosk.store.program?.version).toBe(2);
  });
});
