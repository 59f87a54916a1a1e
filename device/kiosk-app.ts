import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { KioskConfig } from './config.ts';
import { KioskStore } from './store/kiosk-store.ts';
import { HubLink } from './sync/hub-link.ts';
import { Kiosk, type ReceiptPort } from './kiosk/kiosk.ts';
import { buildKioskServer } from './ui/server.ts';
import type { CardReader } from './nfc/card-reader.ts';

export const SOFTWARE_VERSION = '0.1.0';

export interface KioskHardware {
  reader: CardReader;
  printer: ReceiptPort;
}

export interface RunningKiosk {
  kiosk: Kiosk;
  store: KioskStore;
  hub: HubLink;
  url: string;
  stop(): Promise<void>;
}

/** Wires one kiosk together: durable store, hub link, hardware, the member flow and its local page. */
export async function startKiosk(
  config: KioskConfig,
  hardware: KioskHardware,
  logger: Logger = createLogger('kiosk').child({ deviceId: config.deviceId }),
): Promise<RunningKiosk> {
  await mkdir(config.dataDir, { recursive: true });
  const store = await KioskStore.open(join(config.dataDir, 'kiosk.json'));
  const hub = new HubLink({
    url: config.mqttUrl,
    deviceId: config.deviceId,
    softwareVersion: SOFTWARE_VERSION,
    store,
    logger: logger.child({ component: 'hub-link' }),
    username: config.mqttUsername,
    password: config.mqttPassword,
  });
  const kiosk = new Kiosk({
    deviceId: config.deviceId,
    storeName: config.storeName,
    store,
    hub,
    printer: hardware.printer,
    logger: logger.child({ component: 'session' }),
  });
  hardware.reader.on('card', ({ uid }) => {
    kiosk.cardTapped(uid).catch((error: Error) => logger.error({ err: error.message }, 'card tap failed'));
  });
  // Reader errors (a phone or a bank card on the reader, pcscd gone) are logged; the member just taps again.
  hardware.reader.on('error', (error) => logger.warn({ reader: error.readerName, err: error.message }, 'card reader error'));
  const server = await buildKioskServer({ kiosk, logger, emulatedBillValidator: config.billValidator === 'emulated' });
  await server.listen({ host: config.ui.host, port: config.ui.port });
  const { port } = server.server.address() as AddressInfo;
  hub.start();
  await hardware.reader.start();
  const url = `http://${config.ui.host}:${port}/`;
  logger.info({ url, pending: store.pending().length }, 'kiosk started');
  return {
    kiosk,
    store,
    hub,
    url,
    async stop() {
      await hardware.reader.stop();
      await server.close();
      await hub.stop();
    },
  };
}
