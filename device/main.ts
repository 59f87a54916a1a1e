import { createLogger, type Logger } from '../shared/logger.ts';
import { ConfigError } from '../shared/config-env.ts';
import { parseCardKey } from '../shared/card-data.ts';
import { kioskConfigFromEnv, type KioskConfig } from './config.ts';
import { startKiosk, type KioskHardware } from './kiosk-app.ts';
import { EmulatedCardReader } from './nfc/emulated-card-reader.ts';
import { PcscCardReader } from './nfc/pcsc-card-reader.ts';
import type { MemberCardConfig } from './nfc/member-card-config.ts';
import { ReceiptPrinter } from './printer/receipt-printer.ts';
import { openMagtekReader } from './magstripe/open-magtek.ts';

function memberCardConfig(config: KioskConfig): MemberCardConfig | undefined {
  if (!config.memberCards) return undefined;
  return {
    cardKey: parseCardKey(config.memberCards.cardKeyHex),
    classicKey: Buffer.from(config.memberCards.classicKeyHex, 'hex'),
    classicKeyType: 'A',
    aid: Buffer.from(config.memberCards.aidHex, 'hex'),
  };
}

/** The kiosk as a process: configuration from the environment, real hardware adapters. */
function hardwareFor(config: KioskConfig, logger: Logger): KioskHardware {
  const nfcLogger = logger.child({ component: 'nfc' });
  const memberCard = memberCardConfig(config);
  return {
    reader:
      config.nfc === 'pcsc'
        ? new PcscCardReader(nfcLogger, memberCard ? { memberCard } : {})
        : new EmulatedCardReader('Emulated NFC reader', nfcLogger),
    printer: new ReceiptPrinter(config.printer, { logger: logger.child({ component: 'printer' }) }),
    ...(config.magstripe ? { magstripe: openMagtekReader(config.magstripe.productId, config.magstripe.vendorId) } : {}),
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
// 'restart-app' ends the process cleanly; the kiosk's service manager (systemd) starts it again.
const running = await startKiosk(config, hardwareFor(config, logger), logger, { restart: () => shutdown() });
console.log(`Kiosk ${config.deviceId}: ${running.url}`);
function shutdown() {
  void running.stop().then(() => process.exit(0));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
