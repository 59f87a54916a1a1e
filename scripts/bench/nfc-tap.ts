import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../shared/logger.ts';
import { startKiosk } from '../../device/kiosk-app.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import type { KioskView } from '../../device/kiosk/kiosk.ts';
import { startPcscd } from '../../test/helpers/pcscd.ts';
import { TestHub } from '../../test/helpers/hub.ts';
import { reachedNote, type Budget } from './budget.ts';
import { summarize, type BenchRow } from './stats.ts';

/**
 * Tap → member resolved, over the real pcscd + vpcd path, next to the moment nfc-pcsc reported the
 * card (its `card` event, as surfaced by our reader) measured on the same taps. The difference is what
 * the kiosk adds: the hub lookup over MQTT and the screen update.
 */
export async function benchNfcTap(budget: Budget, taps = 30): Promise<BenchRow[]> {
  const pcscd = await startPcscd();
  const hub = await TestHub.create();
  await hub.start();
  const member = await hub.member('基准 Bench', '04BEEF01', 0);
  const printer = await startPrinterEmulator();
  const dataDir = await mkdtemp(join(tmpdir(), 'mk-bench-'));
  const reader = new PcscCardReader(createLogger('nfc'));
  const kiosk = await startKiosk(
    {
      deviceId: 'bench-kiosk',
      storeName: 'Bench',
      mqttUrl: hub.running.mqttUrl,
      dataDir,
      ui: { host: '127.0.0.1', port: 0 },
      printer: { kind: 'tcp', host: '127.0.0.1', port: printer.port },
      nfc: 'pcsc',
      billValidator: { kind: 'none' },
    },
    { reader, printer: new ReceiptPrinter({ host: '127.0.0.1', port: printer.port }) },
  );
  const toCardEvent: number[] = [];
  const toMember: number[] = [];
  try {
    const card = new VirtualCard({ uid: member.cardUid });
    // A tap takes well under a second; the reserve is for stopping the kiosk, the hub and pcscd.
    for (let i = 0; i < taps && budget.remainingMs() > 10_000; i++) {
      await kiosk.kiosk.endSession();
      const cardSeen = once(reader, 'card');
      const memberShown = new Promise<void>((resolve) => {
        const onChange = (view: KioskView) => {
          if (view.screen.name !== 'member') return;
          kiosk.kiosk.off('change', onChange);
          resolve();
        };
        kiosk.kiosk.on('change', onChange);
      });
      const start = performance.now();
      await card.insert(pcscd.vpcdPort);
      await cardSeen;
      toCardEvent.push(performance.now() - start);
      await memberShown;
      toMember.push(performance.now() - start);
      const removed = once(reader, 'card-removed');
      await card.remove();
      await removed;
    }
  } finally {
    await kiosk.stop();
    await printer.close();
    await hub.cleanup();
    await pcscd.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const note = toMember.length < taps ? { note: reachedNote(toMember.length, taps, 'taps', budget) } : {};
  return [
    { bench: 'nfc tap (pcscd+vpcd)', metric: 'card placed → nfc-pcsc card event', unit: 'ms', summary: summarize(toCardEvent), ...note },
    { bench: 'nfc tap (pcscd+vpcd)', metric: 'card placed → member on screen', unit: 'ms', summary: summarize(toMember), ...note },
  ];
}
