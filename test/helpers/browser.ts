import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export { launchHeadlessChromium as launchBrowser } from '../../device/emulators/headless-chromium.ts';

export const ARTIFACTS_DIR = 'test-artifacts';

/** Keeps a screenshot of what the page showed, as a test artifact a person can look at. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
