import { isDeviceId } from '../shared/ids.ts';
import { EnvReader } from '../shared/config-env.ts';
import type { PrinterEndpoint } from './printer/printer-link.ts';

export interface KioskConfig {
  deviceId: string;
  storeName: string;
  mqttUrl: string;
  mqttUsername?: string;
  mqttPassword?: string;
  dataDir: string;
  ui: { host: string; port: number };
  printer: PrinterEndpoint;
  /** `pcsc`: a real PC/SC reader through pcscd; `emulated`: in-process reader for demos without pcscd. */
  nfc: 'pcsc' | 'emulated';
  /** A ccTalk bill validator on a serial port, or none (the kiosk then shows balances but takes no cash). */
  billValidator: { kind: 'cctalk'; path: string } | { kind: 'none' };
  /** The chain's secrets for verifying member card records; without them cards identify by UID only. */
  memberCards?: { cardKeyHex: string; classicKeyHex: string; aidHex: string };
  /** A USB HID magnetic stripe reader (MagTek-style), by vendor and product id. */
  magstripe?: { vendorId: number; productId: number };
  /** How long the kiosk waits for the hub's ack before it publishes a transaction again (then backing off); HubLink's default without it. */
  ackTimeoutMs?: number;
}

function milliseconds(read: EnvReader, name: string, min: number): number | undefined {
  const raw = read.optional(name);
  if (raw === undefined) return undefined;
  const ms = Number(raw);
  if (Number.isInteger(ms) && ms >= min && ms <= 2_147_483_647) return ms;
  read.problems.push(`${name} must be a whole number of milliseconds from ${min} to 2147483647, got "${raw}"`);
  return undefined;
}

function hidIds(read: EnvReader): KioskConfig['magstripe'] {
  const raw = read.optional('MAGSTRIPE_HID');
  if (raw === undefined) return undefined;
  const match = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(raw);
  if (match) return { vendorId: parseInt(match[1]!, 16), productId: parseInt(match[2]!, 16) };
  read.problems.push(`MAGSTRIPE_HID must be vendor:product in hex, e.g. 0801:0002, got "${raw}"`);
  return undefined;
}

function printerEndpoint(read: EnvReader): PrinterEndpoint {
  const raw = read.string('PRINTER_URL', 'tcp://127.0.0.1:9100');
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (url?.protocol === 'tcp:' && url.hostname) return { kind: 'tcp', host: url.hostname, port: Number(url.port || 9100) };
  if (url?.protocol === 'serial:' && url.pathname.length > 1) {
    const baudRate = Number(url.searchParams.get('baud') ?? 19200);
    if (Number.isInteger(baudRate) && baudRate > 0) return { kind: 'serial', path: decodeURIComponent(url.pathname), baudRate };
  }
  read.problems.push(`PRINTER_URL must be tcp://host:port or serial:///dev/ttyX?baud=19200, got "${raw}"`);
  return { kind: 'tcp', host: '127.0.0.1', port: 9100 };
}

function hexSecret(read: EnvReader, name: string, bytes: number, fallback?: string): string | undefined {
  const value = read.optional(name) ?? fallback;
  if (value === undefined) return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value;
  // Never echo a secret back into a log or a terminal.
  read.problems.push(`${name} must be ${bytes} bytes as ${bytes * 2} hex digits`);
  return undefined;
}

/** Reads the kiosk's configuration from the environment (see README, "Configuration"). */
export function kioskConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KioskConfig {
  const read = new EnvReader(env);
  const deviceId = read.string('DEVICE_ID');
  if (deviceId && !isDeviceId(deviceId)) {
    read.problems.push(`DEVICE_ID may contain only letters, digits, '-' and '_' (max 64), got "${deviceId}"`);
  }
  const mqttUrl = read.url('MQTT_URL', ['mqtt:', 'mqtts:']);
  if (!env.MQTT_URL) read.problems.push('MQTT_URL is required (e.g. mqtt://hub.example:1883)');
  const billValidatorPath = read.optional('BILL_VALIDATOR_PATH');
  const cardKeyHex = hexSecret(read, 'CARD_KEY', 32);
  const config: KioskConfig = {
    deviceId,
    storeName: read.string('STORE_NAME', '演示门店 Demo Store'),
    mqttUrl: mqttUrl ?? '',
    mqttUsername: read.optional('MQTT_USERNAME'),
    mqttPassword: read.optional('MQTT_PASSWORD'),
    dataDir: read.string('KIOSK_DATA_DIR', `data/kiosk-${deviceId || 'unknown'}`),
    ui: { host: read.string('KIOSK_UI_HOST', '127.0.0.1'), port: read.port('KIOSK_UI_PORT', 8081) },
    printer: printerEndpoint(read),
    nfc: read.oneOf('NFC_READER', ['pcsc', 'emulated'] as const, 'pcsc'),
    billValidator: billValidatorPath ? { kind: 'cctalk', path: billValidatorPath } : { kind: 'none' },
  };
  const magstripe = hidIds(read);
  if (magstripe) config.magstripe = magstripe;
  const ackTimeoutMs = milliseconds(read, 'KIOSK_ACK_TIMEOUT_MS', 1000);
  if (ackTimeoutMs !== undefined) config.ackTimeoutMs = ackTimeoutMs;
  if (cardKeyHex) {
    config.memberCards = {
      cardKeyHex,
      // The factory key FFFFFFFFFFFF is only a default for cards not yet keyed by the chain.
      classicKeyHex: hexSecret(read, 'CARD_CLASSIC_KEY', 6, 'FFFFFFFFFFFF') ?? '',
      aidHex: hexSecret(read, 'CARD_AID', 8, 'F04D4B4D454D4231') ?? '',
    };
  }
  read.done();
  return config;
}
