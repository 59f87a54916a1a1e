import mqtt, { type MqttClient } from 'mqtt';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { DeviceTelemetry, PeripheralTelemetry } from '../../shared/contract/fleet.ts';
import type { DeviceStatus } from '../../shared/contract/payloads.ts';
import { topics } from '../../shared/contract/topics.ts';

/** A valid telemetry message with everything healthy, for tests to override. */
export function telemetryOf(deviceId: string, overrides: Partial<DeviceTelemetry> = {}, peripherals: PeripheralTelemetry[] = []): DeviceTelemetry {
  return {
    v: 1,
    deviceId,
    at: new Date().toISOString(),
    softwareVersion: '1.4.2',
    uptimeSeconds: 120,
    memoryRssBytes: 80_000_000,
    health: { overall: 'ok', summary: 'ok', peripherals },
    outbox: { depth: 0, oldestAgeSeconds: null },
    hubLink: { connected: true, lastSyncAt: null },
    ...overrides,
  };
}

export const printer = (paper: PeripheralTelemetry['paper'], fault: PeripheralTelemetry['fault'] = null): PeripheralTelemetry => ({
  kind: 'printer', name: 'tcp://10.0.0.5:9100', present: true, ready: fault === null, fault, paper,
});

export const billValidator = (fault: PeripheralTelemetry['fault'] = null, stacker?: PeripheralTelemetry['stacker']): PeripheralTelemetry => ({
  kind: 'bill-validator', name: '/dev/ttyUSB0', present: true, ready: fault === null, fault, ...(stacker ? { stacker } : {}),
});

/**
 * A kiosk at the protocol level: a raw MQTT client speaking the status/telemetry contract with a Last Will,
 * the way HubLink does (will written before connecting, retained online status after).
 */
export class SimulatedKiosk {
  private constructor(
    readonly deviceId: string,
    readonly client: MqttClient,
  ) {}

  static async connect(url: string, deviceId: string, options: { keepaliveSeconds?: number; softwareVersion?: string } = {}): Promise<SimulatedKiosk> {
    const willAt = new Date();
    const status = (state: DeviceStatus['state'], at: Date): string =>
      encodePayload({ v: 1, deviceId, state, at: at.toISOString(), softwareVersion: options.softwareVersion ?? '1.4.2' } satisfies DeviceStatus);
    const client = await mqtt.connectAsync(url, {
      clientId: deviceId,
      clean: true,
      reconnectPeriod: 0,
      keepalive: options.keepaliveSeconds ?? 60,
      will: { topic: topics.status(deviceId), payload: Buffer.from(status('offline', willAt)), qos: 1, retain: true },
    });
    const onlineAt = new Date(Math.max(Date.now(), willAt.getTime() + 1));
    await client.publishAsync(topics.status(deviceId), status('online', onlineAt), { qos: 1, retain: true });
    return new SimulatedKiosk(deviceId, client);
  }

  async telemetry(overrides: Partial<DeviceTelemetry> = {}, peripherals: PeripheralTelemetry[] = []): Promise<void> {
    await this.client.publishAsync(topics.telemetry(this.deviceId), encodePayload(telemetryOf(this.deviceId, overrides, peripherals)), { qos: 1, retain: true });
  }

  /** Publishes raw bytes on one of this device's channels, for malformed-input tests. */
  async raw(topic: string, payload: string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  /** The connection dies without an MQTT DISCONNECT (power cut, cable pulled): the broker publishes the will. */
  crash(): void {
    this.client.stream.destroy();
    this.client.end(true);
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}
