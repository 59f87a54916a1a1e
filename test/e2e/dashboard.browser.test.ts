import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import type { AssembledHub } from '../../cloud/hub.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import { createOperator } from '../../cloud/org/operators.ts';
import { createLogger } from '../../shared/logger.ts';
import { keepScreenshot, launchBrowser } from '../helpers/browser.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';
import { SimulatedKiosk, billValidator, printer } from '../helpers/simulated-kiosk.ts';

/**
 * The fleet dashboard in a real Chromium: a hub with the fleet feature and the dashboard routes, three kiosks
 * speaking the MQTT contract; one loses its connection and the open page turns it offline, without a reload.
 */
describe('fleet dashboard in Chromium', () => {
  const logger = createLogger('test');
  let db: Database;
  let broker: EmbeddedBroker;
  let hub: AssembledHub;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;
  let technicianToken: string;
  const kiosks: SimulatedKiosk[] = [];

  beforeAll(async () => {
    db = await openDatabase({});
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
    hub = await assembleTestHub(db, {
      logger,
      mqtt: broker.link,
      fleet: {
        thresholds: { offlineAfterSeconds: 0 },
        placements: {
          'xh-01': { store: '徐汇店 Xuhui', region: '华东 East' },
          'xh-02': { store: '徐汇店 Xuhui', region: '华东 East' },
          'ty-01': { store: '天河店 Tianhe', region: '华南 South' },
        },
      },
    });
    await hub.start();
    app = hub.app;
    ({ token: technicianToken } = await createOperator(
      db,
      { name: 'Fleet technician', role: 'technician', scope: { level: 'hq', id: 'hq' } },
      { type: 'system', id: 'test' },
      'dashboard test',
    ));
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/dashboard`;
    browser = await launchBrowser();

    const since = new Date().toISOString();
    for (const id of ['xh-01', 'xh-02', 'ty-01']) kiosks.push(await SimulatedKiosk.connect(broker.url, id, { keepaliveSeconds: 2 }));
    await kiosks[0]!.telemetry({ outbox: { depth: 2, oldestAgeSeconds: 40 } }, [printer('ok'), billValidator()]);
    await kiosks[1]!.telemetry({}, [printer('out', { code: 'paper-end', message: 'out of paper', since })]);
    await kiosks[2]!.telemetry({ softwareVersion: '1.5.0' }, [billValidator({ code: 'jam', message: 'bill jammed', since })]);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(kiosks.filter((k) => k.client.connected).map((k) => k.close()));
    await hub?.stop();
    await broker?.close();
    await db?.close();
  });

  it('shows every kiosk and turns one offline with an alert, live', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 600 } });
    await page.goto(url);
    await page.locator('#live').getByText('未登录 signed out').waitFor();
    await page.locator('#token').fill('mko_not-a-real-token-at-all-000000');
    await page.getByRole('button', { name: '登录 Sign in' }).click();
    await page.locator('#signin-error').getByText('not recognised').waitFor();
    await page.locator('#token').fill(technicianToken);
    await page.getByRole('button', { name: '登录 Sign in' }).click();
    await page.locator('#live').getByText('已连接 connected').waitFor();
    const row = (id: string) => page.locator(`tr[data-device="${id}"]`);
    await row('ty-01').getByText('1.5.0').waitFor();
    await row('xh-01').getByText('2 · 40 s').waitFor();
    await row('xh-02').locator('[data-kind="paper-out"]').waitFor();
    await row('ty-01').locator('[data-kind="bill-jam"]').waitFor();
    expect(await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.device))).toEqual([
      'xh-01', 'xh-02', 'ty-01',
    ]);
    expect(await page.locator('#count-online').textContent()).toBe('3');
    await keepScreenshot(page, 'fleet-dashboard-all-online');

    kiosks[0]!.crash();
    await row('xh-01').and(page.locator('[data-state="offline"]')).waitFor();
    await row('xh-01').getByText('离线 offline · 异常断开 unexpected').waitFor();
    await row('xh-01').locator('[data-kind="offline"]').waitFor();
    expect(await page.locator('#count-offline').textContent()).toBe('1');
    await keepScreenshot(page, 'fleet-dashboard-kiosk-offline');

    const fleetUrl = url.replace('/dashboard', '/api/v1/fleet');
    expect((await fetch(fleetUrl)).status).toBe(401);
    const api = (await (await fetch(fleetUrl, { headers: { authorization: `Bearer ${technicianToken}` } })).json()) as {
      summary: { online: number; offline: number };
    };
    expect(api.summary).toMatchObject({ online: 2, offline: 1 });

    // The token is kept for the tab: a reload goes straight back to the live view.
    await page.reload();
    await page.locator('#live').getByText('已连接 connected').waitFor();
    expect(await page.locator('#signin').isHidden()).toBe(true);
  });
});
