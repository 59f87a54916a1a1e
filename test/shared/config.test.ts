import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/config-env.ts';
import { kioskConfigFromEnv } from '../../device/config.ts';
import { hubConfigFromEnv } from '../../cloud/config.ts';

describe('kiosk configuration', () => {
  it('reads a complete environment with sensible defaults', () => {
    const config = kioskConfigFromEnv({ DEVICE_ID: 'store12-kiosk1', MQTT_URL: 'mqtt://hub:1883' });
    expect(config).toMatchObject({
      deviceId: 'store12-kiosk1',
      mqttUrl: 'mqtt://hub:1883',
      dataDir: 'data/kiosk-store12-kiosk1',
      ui: { host: '127.0.0.1', port: 8081 },
      printer: { kind: 'tcp', host: '127.0.0.1', port: 9100 },
      nfc: 'pcsc',
      billValidator: { kind: 'none' },
    });
  });

  it('reads a serial printer, a ccTalk validator, the card secrets and a magstripe reader', () => {
    const config = kioskConfigFromEnv({
      DEVICE_ID: 'k1',
      MQTT_URL: 'mqtt://hub:1883',
      PRINTER_URL: 'serial:///dev/serial/by-id/usb-printer?baud=38400',
      BILL_VALIDATOR_PATH: '/dev/serial/by-id/usb-validator',
      CARD_KEY: 'ab'.repeat(32),
      MAGSTRIPE_HID: '0801:0002',
    });
    expect(config).toMatchObject({
      printer: { kind: 'serial', path: '/dev/serial/by-id/usb-printer', baudRate: 38400 },
      billValidator: { kind: 'cctalk', path: '/dev/serial/by-id/usb-validator' },
      memberCards: { cardKeyHex: 'ab'.repeat(32), classicKeyHex: 'FFFFFFFFFFFF', aidHex: 'F04D4B4D454D4231' },
      magstripe: { vendorId: 0x0801, productId: 0x0002 },
    });
  });

  it("reads how long to wait for the hub's ack before publishing again, in whole milliseconds of at least a second", () => {
    expect(kioskConfigFromEnv({ DEVICE_ID: 'k1', MQTT_URL: 'mqtt://hub:1883' }).ackTimeoutMs).toBeUndefined();
    expect(kioskConfigFromEnv({ DEVICE_ID: 'k1', MQTT_URL: 'mqtt://hub:1883', KIOSK_ACK_TIMEOUT_MS: '10000' }).ackTimeoutMs).toBe(10_000);
    expect(() => kioskConfigFromEnv({ DEVICE_ID: 'k1', MQTT_URL: 'mqtt://hub:1883', KIOSK_ACK_TIMEOUT_MS: '50' })).toThrow(
      'KIOSK_ACK_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 2147483647, got "50"',
    );
  });

  it('refuses a malformed card key without echoing the secret', () => {
    expect(() => kioskConfigFromEnv({ DEVICE_ID: 'k1', MQTT_URL: 'mqtt://hub:1883', CARD_KEY: 'secret-but-short' })).toThrow(
      'CARD_KEY must be 32 bytes as 64 hex digits',
    );
    try {
      kioskConfigFromEnv({ DEVICE_ID: 'k1', MQTT_URL: 'mqtt://hub:1883', CARD_KEY: 'secret-but-short' });
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-but-short');
    }
  });

  it('lists every problem at once, naming the variable and what it expects', () => {
    const attempt = () =>
      kioskConfigFromEnv({ DEVICE_ID: 'kiosk/1', KIOSK_UI_PORT: '80a', NFC_READER: 'usb', PRINTER_URL: 'lpt1' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        `DEVICE_ID may contain only letters, digits, '-' and '_' (max 64), got "kiosk/1"`,
        'MQTT_URL is required (e.g. mqtt://hub.example:1883)',
        'KIOSK_UI_PORT must be a TCP port number (0-65535), got "80a"',
        'PRINTER_URL must be tcp://host:port or serial:///dev/ttyX?baud=19200, got "lpt1"',
        'NFC_READER must be one of pcsc, emulated, got "usb"',
      ]);
    }
  });
});

describe('hub configuration', () => {
  it('defaults to embedded PGlite and the embedded broker', () => {
    expect(hubConfigFromEnv({})).toEqual({
      http: { host: '127.0.0.1', port: 8080 },
      databaseUrl: undefined,
      dataDir: 'data/hub',
      mqttUrl: undefined,
      mqttUsername: undefined,
      mqttPassword: undefined,
      mqttShareGroup: undefined,
      embeddedMqtt: { host: '127.0.0.1', port: 1883 },
      jobsIntervalMs: 3_600_000,
      kioskNotices: true,
    });
  });

  it('turns kiosk notices off only when asked, and refuses anything but on or off', () => {
    expect(hubConfigFromEnv({ HUB_KIOSK_NOTICES: 'off' }).kioskNotices).toBe(false);
    expect(hubConfigFromEnv({ HUB_KIOSK_NOTICES: 'on' }).kioskNotices).toBe(true);
    expect(() => hubConfigFromEnv({ HUB_KIOSK_NOTICES: 'yes' })).toThrow(/HUB_KIOSK_NOTICES must be on or off, got "yes"/);
  });

  it('refuses a database URL that is not PostgreSQL', () => {
    expect(() => hubConfigFromEnv({ DATABASE_URL: 'mysql://db/x' })).toThrow(
      'DATABASE_URL must be a postgres: or postgresql: URL, got "mysql://db/x"',
    );
  });
});

describe('hub scale-out configuration', () => {
  it('refuses a share group on the embedded broker, which has no shared subscriptions', () => {
    expect(() => hubConfigFromEnv({ MQTT_SHARE_GROUP: 'hubs' })).toThrow('MQTT_SHARE_GROUP needs an external broker (MQTT_URL)');
    expect(hubConfigFromEnv({ MQTT_SHARE_GROUP: 'hubs', MQTT_URL: 'mqtt://broker:1883' }).mqttShareGroup).toBe('hubs');
  });
});
