import { createLogger } from '../shared/logger.ts';
import { startDemo } from './demo/demo-stack.ts';

/** `npm start`: the whole system on this machine, on emulated hardware. */
const logger = createLogger('demo');
const nfc = process.env.NFC_READER === 'pcsc' ? 'pcsc' : 'emulated';
const demo = await startDemo({
  dataDir: process.env.DEMO_DATA_DIR ?? 'data/demo',
  ports: { hub: 8080, kiosk: 8081, control: 8082 },
  nfc,
  adminToken: process.env.HUB_ADMIN_TOKEN,
  logger,
});
console.log(`
member-kiosk demo is running (NFC: ${nfc === 'pcsc' ? 'real pcscd + vpcd virtual cards' : 'in-process emulated reader'})
  Kiosk touch page          ${demo.kiosk.url}
  Emulator control          ${demo.controlUrl}
  Hub REST API / OpenAPI    ${demo.hub.httpUrl}/api/v1  ·  ${demo.hub.httpUrl}/docs
  Fleet dashboard           ${demo.hub.httpUrl}/dashboard
  HQ admin token            ${demo.adminToken}   (Authorization: Bearer …; set HUB_ADMIN_TOKEN to choose it)
  MQTT broker (embedded)    ${demo.hub.mqttUrl}
Press Ctrl+C to stop.`);
const shutdown = () => void demo.stop().then(() => process.exit(0));
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
