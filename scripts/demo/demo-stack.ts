import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { startHub, type RunningHub } from '../../cloud/hub.ts';
import { newOperatorToken } from '../../cloud/org/tokens.ts';
import { startKiosk, type RunningKiosk } from '../../device/kiosk-app.ts';
import type { KioskConfig } from '../../device/config.ts';
import { EmulatedCardReader } from '../../device/nfc/emulated-card-reader.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { CctalkValidatorEmulator } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair } from '../../device/emulators/serial-pty.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { buildControlServer, type DemoHardware } from './control-server.ts';
import { DEMO_CARDS, seedDemoKioskConfig, seedDemoMembers } from './seed.ts';

export interface DemoOptions {
  dataDir: string;
  host?: string;
  ports?: { hub?: number; kiosk?: number; control?: number };
  /** `pcsc`: virtual cards go through the system pcscd's vpcd reader; `emulated`: in-process reader. */
  nfc?: 'pcsc' | 'emulated';
  /** vpcd's port in the system pcscd configuration (Debian: 35963). */
  vpcdPort?: number;
  /** Bearer token of the hub's HQ admin for the REST API; a fresh random one when absent. */
  adminToken?: string;
  logger?: Logger;
}

export interface RunningDemo {
  hub: RunningHub;
  kiosk: RunningKiosk;
  controlUrl: string;
  /** Sign in to the hub's REST API and fleet dashboard with this (an HQ admin). */
  adminToken: string;
  stop(): Promise<void>;
}

/** How cards reach the reader: by calling the in-process reader, or as virtual cards on vpcd. */
function cardTapper(nfc: 'pcsc' | 'emulated', vpcdPort: number, logger: Logger) {
  if (nfc === 'emulated') {
    const reader = new EmulatedCardReader('Emulated NFC reader', logger.child({ component: 'nfc' }));
    return { reader, tap: async (uid: string) => reader.tap(uid), remove: async () => reader.removeCard() };
  }
  let onReader: VirtualCard | undefined;
  const remove = async () => {
    await onReader?.remove();
    onReader = undefined;
  };
  return {
    reader: new PcscCardReader(logger.child({ component: 'nfc' })),
    tap: async (uid: string) => {
      await remove();
      onReader = new VirtualCard({ uid });
      await onReader.insert(vpcdPort);
    },
    remove,
  };
}

/** What the emulator says when it cannot take a bill, in the control page's words. */
const BILL_OUTCOME_MESSAGES = {
  rejected: 'the validator returned the bill: tap a member card first',
  refused: 'the validator cannot take bills now (jam, stacker, or a bill already in escrow)',
} as const;

/**
 * The whole system on one machine for `npm start` and for the browser tests: hub (PGlite + embedded
 * broker), one kiosk whose bill validator is our ccTalk emulator on a socat pty (the real serialport
 * path), the ESC/POS printer emulator on TCP, and the emulator control page.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const logger = options.logger ?? createLogger('demo');
  const host = options.host ?? '127.0.0.1';
  const adminToken = options.adminToken ?? newOperatorToken();
  const hub = await startHub(
    {
      http: { host, port: options.ports?.hub ?? 0 },
      dataDir: join(options.dataDir, 'hub'),
      embeddedMqtt: { host, port: 0 },
      adminToken,
    },
    logger.child({ app: 'hub' }),
  );
  await seedDemoMembers(hub);
  const printerEmulator = await startPrinterEmulator({ host, port: 0 });
  const serialCable = await openPtyPair();
  const validatorEmulator = await CctalkValidatorEmulator.open(serialCable.devicePath);
  const cards = cardTapper(options.nfc ?? 'emulated', options.vpcdPort ?? 35963, logger);
  const config: KioskConfig = {
    deviceId: 'demo-kiosk-1',
    storeName: '旗舰店 Flagship Store',
    mqttUrl: hub.mqttUrl,
    dataDir: join(options.dataDir, 'kiosk'),
    ui: { host, port: options.ports?.kiosk ?? 0 },
    printer: { kind: 'tcp', host, port: printerEmulator.port },
    nfc: options.nfc ?? 'emulated',
    billValidator: { kind: 'cctalk', path: serialCable.hostPath },
  };
  await seedDemoKioskConfig(hub.sync.config, config.deviceId, config.storeName);
  const kiosk = await startKiosk(config, { reader: cards.reader, printer: new ReceiptPrinter(config.printer) }, logger.child({ app: 'kiosk' }));

  const hardware: DemoHardware = {
    tap: cards.tap,
    removeCard: cards.remove,
    stackBill: async (amountFen) => {
      // Escrow first, as a real validator does: the kiosk decides to stack it for the member on screen.
      const outcome = validatorEmulator.insertBill(amountFen, { escrow: true });
      if (outcome === 'rejected' || outcome === 'refused') throw new Error(BILL_OUTCOME_MESSAGES[outcome]);
    },
    onReceipt: (listener) => {
      printerEmulator.on('receipt', listener);
      return () => printerEmulator.off('receipt', listener);
    },
    printedReceipts: () => [...printerEmulator.receipts],
  };
  const control = await buildControlServer({
    hardware,
    kioskUrl: kiosk.url,
    cards: DEMO_CARDS.map(({ uid, label }) => ({ uid, label })),
    logger,
  });
  await control.listen({ host, port: options.ports?.control ?? 0 });
  const controlUrl = `http://${host}:${(control.server.address() as AddressInfo).port}/`;
  return {
    hub,
    adminToken,
    kiosk,
    controlUrl,
    async stop() {
      await control.close();
      await cards.remove();
      await kiosk.stop();
      await validatorEmulator.close();
      await serialCable.stop();
      await printerEmulator.close();
      await hub.stop();
    },
  };
}
