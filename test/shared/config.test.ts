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
      printer: { host: '127.0.0.1', port: 9100 },
      nfc: 'pcsc',
    });
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
        'PRINTER_URL must be a tcp: URL, got "lpt1"',
        'KIOSK_UI_PORT must be a TCP port number (0-65535), got "80a"',
        'NFC_READER must be one of pcsc, emulated, got "usb"',
        'MQTT_URL is required (e.g. mqtt://hub.example:1883)',
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
      embeddedMqtt: { host: '127.0.0.1', port: 1883 },
    });
  });

  it('refuses a database URL that is not PostgreSQL', () => {
    expect(() => hubConfigFromEnv({ DATABASE_URL: 'mysql://db/x' })).toThrow(
      'DATABASE_URL must be a postgres: or postgresql: URL, got "mysql://db/x"',
    );
  });
});
