import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../shared/contract/topics.ts';
import type { ConfigReported, DesiredConfig, DeviceConfig } from '../../shared/contract/payloads.ts';
import { DEFAULT_DEVICE_CONFIG } from '../../cloud/sync/index.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { ConfigSync } from '../../device/sync/config-sync.ts';
import { createLogger } from '../../shared/logger.ts';
import { nextEvent } from '../helpers/events.ts';
import { linkKiosk, SyncHub, type LinkedKiosk } from '../helpers/sync-hub.ts';

const id = 'kiosk-config-1';

const config = (storeName: string, perTransactionFen: number): DeviceConfig => ({
  storeName,
  receiptFooter: '谢谢惠顾 Thank you',
  offlineLimits: { perTransactionFen, perCardPerDayFen: 100_000, perKioskTotalFen: 500_000, maxOfflineHours: 24 },
});

describe('desired vs reported configuration (ConfigShadow + REST at the hub, ConfigSync + KioskStore at the kiosk)', () => {
  let hub: SyncHub;
  let kiosk: LinkedKiosk;
  let configSync: ConfigSync;

  const reportFromKiosk = () => nextEvent<{ deviceId: string; report: ConfigReported }>(hub.sync.config, 'reported', (e) => e.deviceId === id);
  const put = (body: unknown) =>
    hub.http.inject({ method: 'PUT', url: `/api/v1/devices/${id}/config`, payload: body as object, headers: hub.adminHeaders });
  const state = async () => (await hub.http.inject({ method: 'GET', url: `/api/v1/devices/${id}/config`, headers: hub.adminHeaders })).json();

  /** What a broker still holding an old retained copy, or a misbehaving publisher, would deliver. */
  async function deliverRaw(payload: string): Promise<void> {
    const client = await mqtt.connectAsync(hub.mqttUrl, { clientId: 'test-raw-config', reconnectPeriod: 0 });
    await client.publishAsync(topics.config(id), payload, { qos: 1 });
    await client.endAsync();
  }

  beforeAll(async () => {
    hub = await SyncHub.start();
    // No operator has configured this kiosk: coming online, it gets the default configuration (and the rules).
    const first = reportFromKiosk();
    kiosk = await linkKiosk(hub, id, ({ link, store }) => {
      configSync = new ConfigSync({ deviceId: id, link, store, logger: createLogger('test-config-sync') });
      configSync.start();
    });
    await first;
  });

  afterAll(async () => {
    await kiosk?.stop();
    await hub?.stop();
  });

  it('starts from the default configuration, applies an operator\'s versions 2 and 3 durably, and the hub records them', async () => {
    // The program rules (version 1: the defaults on a fresh hub) ride along with every configuration.
    const program = { status: 'applied', version: 1, appliedVersion: 1 };
    expect(kiosk.store.config).toMatchObject({ version: 1, config: DEFAULT_DEVICE_CONFIG });
    expect(await state()).toMatchObject({
      desired: { version: 1, config: DEFAULT_DEVICE_CONFIG },
      reported: { status: 'applied', version: 1, appliedVersion: 1 },
      program: { desiredVersion: 1, reported: program },
    });

    let reported = reportFromKiosk();
    let applied = nextEvent(configSync, 'applied');
    expect((await put(config('一号店', 30_000))).statusCode).toBe(200);
    expect(await applied).toMatchObject({ version: 2 });
    expect((await reported).report).toEqual({ v: 1, status: 'applied', version: 2, appliedVersion: 2, program });

    reported = reportFromKiosk();
    applied = nextEvent(configSync, 'applied');
    const response = await put(config('一号店 Store 1', 20_000));
    expect(response.json()).toMatchObject({ desired: { version: 3, config: { storeName: '一号店 Store 1' } } });
    expect(await applied).toMatchObject({ version: 3, config: { offlineLimits: { perTransactionFen: 20_000 } } });
    expect((await reported).report).toEqual({ v: 1, status: 'applied', version: 3, appliedVersion: 3, program });

    expect(kiosk.store.config).toMatchObject({ version: 3, config: config('一号店 Store 1', 20_000) });
    expect(await state()).toMatchObject({
      desired: { version: 3, config: config('一号店 Store 1', 20_000) },
      reported: { status: 'applied', version: 3, appliedVersion: 3 },
    });
  });

  it('refuses an older version as stale and keeps what it runs', async () => {
    const reported = reportFromKiosk();
    const stale: DesiredConfig = { v: 1, version: 1, config: config('旧店名 Old name', 1) };
    await deliverRaw(JSON.stringify(stale));
    const { report } = await reported;
    expect(report).toMatchObject({ status: 'rejected', version: 1, appliedVersion: 3 });
    expect(report.status === 'rejected' && report.reason).toMatch(/stale/);
    expect(kiosk.store.config).toMatchObject({ version: 3, config: { storeName: '一号店 Store 1' } });
    expect(await state()).toMatchObject({ desired: { version: 3 }, reported: { status: 'rejected', version: 1, appliedVersion: 3 } });
  });

  it('refuses a malformed configuration with the reason, and nothing changes', async () => {
    const reported = reportFromKiosk();
    const malformed = { v: 1, version: 9, config: { ...config('坏 Bad', 1), offlineLimits: { perTransactionFen: -5 } } };
    await deliverRaw(JSON.stringify(malformed));
    const { report } = await reported;
    expect(report).toMatchObject({ status: 'rejected', version: 9, appliedVersion: 3 });
    expect(report.status === 'rejected' && report.reason).toMatch(/offlineLimits/);
    expect(kiosk.store.config).toMatchObject({ version: 3, config: { storeName: '一号店 Store 1' } });

    const unreadable = reportFromKiosk();
    await deliverRaw('{not json');
    expect((await unreadable).report).toEqual({ v: 1, status: 'rejected', appliedVersion: 3, reason: 'payload is not valid JSON' });
    expect(kiosk.store.config?.version).toBe(3);
  });

  it('refuses an invalid configuration over REST with 400 and keeps the desired version', async () => {
    const response = await put({ ...config('x', 1), offlineLimits: { perTransactionFen: 1 } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect(await state()).toMatchObject({ desired: { version: 3 } });
  });

  it('reaches a kiosk that connects after the change (retained)', async () => {
    const lateId = 'kiosk-config-late';
    const putLate = { method: 'PUT', url: `/api/v1/devices/${lateId}/config`, payload: config('二号店', 10_000), headers: hub.adminHeaders } as const;
    expect((await hub.http.inject(putLate)).statusCode).toBe(200);
    let lateSync: ConfigSync | undefined;
    let applied: Promise<unknown> | undefined;
    const late = await linkKiosk(hub, lateId, ({ link, store }) => {
      lateSync = new ConfigSync({ deviceId: lateId, link, store, logger: createLogger('test-config-sync') });
      applied = nextEvent(lateSync, 'applied');
      lateSync.start();
    });
    try {
      expect(await applied).toMatchObject({ version: 1, config: { storeName: '二号店' } });
      expect(lateSync!.current).toMatchObject({ version: 1 });
    } finally {
      await late.stop();
    }
  });

  it('keeps the applied configuration across a restart of the kiosk store', async () => {
    const reopened = await KioskStore.open(kiosk.file);
    expect(reopened.config).toMatchObject({ version: 3, config: config('一号店 Store 1', 20_000) });
  });

  it('opens a data file written before configuration existed as "none applied yet"', async () => {
    const file = join(dirname(kiosk.file), 'older.json');
    await writeFile(file, JSON.stringify({ v: 1, nextSeq: 1, outbox: [], members: {}, cash: { session: null, lastBillEventCounter: null } }));
    const older = await KioskStore.open(file);
    expect(older.config).toBeNull();
    expect(await older.applyConfig(1, config('三号店', 1))).toBe(true);
    expect(await older.applyConfig(1, config('三号店 again', 1))).toBe(false);
    expect((await KioskStore.open(file)).config).toMatchObject({ version: 1, config: { storeName: '三号店' } });
  });
});
