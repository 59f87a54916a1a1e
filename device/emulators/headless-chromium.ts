import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt package `chromium`); playwright-core never downloads a browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Headless Chromium with the flags this kind of machine needs: no sandbox as root, no GPU, and no
 * background connections, which a closed network refuses by the dozen.
 */
export function launchHeadlessChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
