import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../scripts/demo/demo-stack.ts';
import { keepScreenshot, launchBrowser } from '../helpers/browser.ts';
import { newId } from '../../shared/ids.ts';

/**
 * The pages a person sees, in a real Chromium: the kiosk touch page and the emulator control page of
 * the demo stack (`npm start`), driven the way a member and a demo operator use them.
 */
describe('kiosk page and emulator control page in Chromium', () => {
  let demo: RunningDemo;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mk-demo-'));
    demo = await startDemo({ dataDir });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('walks a member from tap to a printed top-up receipt', async () => {
    const kioskPage = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await kioskPage.goto(demo.kiosk.url);
    await expect.poll(() => kioskPage.locator('#screen').textContent()).toContain('请刷会员卡');
    await expect.poll(() => kioskPage.locator('#link').textContent()).toContain('在线 Online');

    const control = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await control.goto(demo.controlUrl);

    await control.locator('button[data-uid="0BADCAFE"]').click();
    await kioskPage.getByText('此卡未登记，请到收银台办理').waitFor();

    await control.locator('button[data-uid="04A22B1C"]').click();
    await kioskPage.locator('[data-testid="member-name"]').getByText('张三').waitFor();
    expect(await kioskPage.locator('[data-testid="stored-value"]').textContent()).toBe('¥50.00');
    expect(await kioskPage.locator('[data-testid="points"]').textContent()).toBe('120');
    // The demo kiosk runs the default program rules: the screen offers the top-up bonus before any cash goes in.
    await kioskPage.locator('[data-testid="topup-offer"]').getByText('投¥100送20').waitFor();

    await control.locator('button[data-bill="100"]').click();
    await kioskPage.locator('[data-testid="last-topup"]').getByText('已同步 · Synced').waitFor();
    await kioskPage.getByText('凭条已打印 · Receipt printed').waitFor();
    // ¥50 + ¥100 principal + ¥20 bonus (充100送20).
    expect(await kioskPage.locator('[data-testid="stored-value"]').textContent()).toBe('¥170.00');
    await keepScreenshot(kioskPage, 'kiosk-after-topup');

    const receipt = control.locator('.receipt').first();
    await receipt.waitFor();
    const text = await receipt.textContent();
    expect(text).toContain('充值凭条');
    expect(text).toContain('￥100.00');
    expect(text).toContain('￥150.00');
    await keepScreenshot(control, 'emulator-control-receipt');

    await kioskPage.getByRole('button', { name: '完成 Done' }).click();
    await kioskPage.getByText('请刷会员卡').waitFor();
  });

  it('shows the member their program notices under the balances', async () => {
    expect(demo.hub.notices.enabled).toBe(true); // on by default (HUB_KIOSK_NOTICES)
    const member = (await demo.hub.memberByCard('04A22B1C'))!;
    // 300 points from a top-up 20 days ago that expire a month after it: within the 30 days the kiosk warns about.
    await demo.hub.ledger.topUpCash({
      idempotencyKey: newId(), memberId: member.memberId, amountFen: 100, actor: { type: 'operator', id: 'browser-test' },
      at: new Date(Date.now() - 20 * 86_400_000), bonusRules: [{ id: 'points-gift', thresholdFen: 100, bonusFen: 0, bonusPoints: 300 }],
      pointsExpiry: { kind: 'months_after_award', months: 1, timeZone: 'Asia/Shanghai' },
    });

    const kioskPage = await browser.newPage({ viewport: { width: 900, height: 820 } });
    await kioskPage.goto(demo.kiosk.url);
    await expect.poll(() => kioskPage.locator('#screen').textContent()).toContain('请刷会员卡');
    const control = await browser.newPage();
    await control.goto(demo.controlUrl);
    await control.locator('button[data-uid="04A22B1C"]').click();

    const notices = kioskPage.locator('[data-testid="notices"]');
    const progress = notices.locator('[data-kind="tier_progress"]');
    await progress.getByText('再消费¥1000.00升级银卡').waitFor();
    expect(await progress.locator('.nen').textContent()).toBe('Spend ¥1000.00 more to reach Silver');
    const expiring = notices.locator('[data-kind="points_expiring"]');
    expect(await expiring.locator('.nzh').textContent()).toMatch(/^您有 300 积分将于 (\d{4}年)?\d{1,2}月\d{1,2}日 到期$/);
    expect(await expiring.locator('.nen').textContent()).toMatch(/^300 points expire on \d{1,2} [A-Z][a-z]{2}( \d{4})?$/);
    const balancesBox = (await kioskPage.locator('.balances').boundingBox())!;
    const noticesBox = (await notices.boundingBox())!;
    expect(noticesBox.y).toBeGreaterThanOrEqual(balancesBox.y + balancesBox.height);
    await keepScreenshot(kioskPage, 'kiosk-member-notices');

    await kioskPage.getByRole('button', { name: '完成 Done' }).click();
    await kioskPage.getByText('请刷会员卡').waitFor();
  });

  it('refuses a bill when no member is at the kiosk, and says so on the control page', async () => {
    const control = await browser.newPage();
    await control.goto(demo.controlUrl);
    await control.locator('button[data-bill="10"]').click();
    await control.locator('#message.error').getByText('the validator returned the bill: tap a member card first').waitFor();
    expect(demo.kiosk.store.pending()).toEqual([]);
  });
});
