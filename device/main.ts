import { createLogger } from '../shared/logger.ts';
import { ConfigError } from '../shared/config-env.ts';
import { kioskConfigFromEnv, type KioskConfig } from './config.ts';
import { startKiosk, type KioskHardware } from './kiosk-app.ts';
import { EmulatedCardReader } from './nfc/emulated-card-reader.ts';
import { PcscCardReader } from './nfc/pcsc-card-reader.ts';
import { ReceiptPrinter } from './printer/receipt-printer.ts';

/** The kiosk as a process: configuration from the environment, real hardware adapters. */
function hardwareFor(config: KioskConfig, logger: ReturnType<typeof createLogger>): KioskHardware {
  const nfcLogger = logger.child({ component: 'nfc' });
  return {
    reader: config.nfc === 'pcsc' ? new PcscCardReader(nfcLogger) : new EmulatedCardReader('Emulated NFC reader', nfcLogger),
    printer: new ReceiptPrinter(config.printer),
  };
}

let config: KioskConfig;
try {
  config = kioskConfigFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const logger = createLogger('kiosk').child({ deviceId: config.deviceId });
const running = await startKiosk(config, hardwareFor(config, logger), logger);
console.log(`Kiosk ${config.deviceId}: ${running.url}`);
const shutdown = () => void running.stop().then(() => process.exit(0));
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
