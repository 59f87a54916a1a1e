import { isDeviceId } from '../shared/ids.ts';
import { EnvReader } from '../shared/config-env.ts';

export interface KioskConfig {
  deviceId: string;
  storeName: string;
  mqttUrl: string;
  mqttUsername?: string;
  mqttPassword?: string;
  dataDir: string;
  ui: { host: string; port: number };
  printer: { host: string; port: number };
  /** `pcsc`: a real PC/SC reader through pcscd; `emulated`: in-process reader for demos without pcscd. */
  nfc: 'pcsc' | 'emulated';
  /** Until the ccTalk adapter lands, bills arrive only from the emulator control. */
  billValidator: 'emulated';
}

/** Reads the kiosk's configuration from the environment (see README, "Configuration"). */
export function kioskConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KioskConfig {
  const read = new EnvReader(env);
  const deviceId = read.string('DEVICE_ID');
  if (deviceId && !isDeviceId(deviceId)) {
    read.problems.push(`DEVICE_ID may contain only letters, digits, '-' and '_' (max 64), got "${deviceId}"`);
  }
  const printer = read.url('PRINTER_URL', ['tcp:'], 'tcp://127.0.0.1:9100');
  const printerUrl = new URL(printer ?? 'tcp://127.0.0.1:9100');
  const config: KioskConfig = {
    deviceId,
    storeName: read.string('STORE_NAME', '演示门店 Demo Store'),
    mqttUrl: read.url('MQTT_URL', ['mqtt:', 'mqtts:']) ?? '',
    mqttUsername: read.optional('MQTT_USERNAME'),
    mqttPassword: read.optional('MQTT_PASSWORD'),
    dataDir: read.string('KIOSK_DATA_DIR', `data/kiosk-${deviceId || 'unknown'}`),
    ui: { host: read.string('KIOSK_UI_HOST', '127.0.0.1'), port: read.port('KIOSK_UI_PORT', 8081) },
    printer: { host: printerUrl.hostname, port: Number(printerUrl.port || 9100) },
    nfc: read.oneOf('NFC_READER', ['pcsc', 'emulated'] as const, 'pcsc'),
    billValidator: read.oneOf('BILL_VALIDATOR', ['emulated'] as const, 'emulated'),
  };
  if (!env.MQTT_URL) read.problems.push('MQTT_URL is required (e.g. mqtt://hub.example:1883)');
  read.done();
  return config;
}
