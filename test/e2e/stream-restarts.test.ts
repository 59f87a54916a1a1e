import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import { TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/ports.ts';
import { ledgerTotals, outboxTotals } from '../helpers/device-ledger.ts';

const KIOSKS = 10;
const TX_PER_KIOSK = 100;
const PREFIX = 'stream';

/**
 * A 1,000-transaction stream from 10 simulated kiosks while the hub is restarted twice on the same
 * PGlite data dir and MQTT port. The embedded broker lives in the hub process, so each hub restart is
 * also a broker restart: every kiosk loses its connection, QoS 1 messages in flight on either side are
 * lost with the broker's memory, and only the kiosks' outboxes survive. Afterwards the ledger holds
 * every txId exactly once with the right amounts.
 */
describe('hub (and embedded broker) restarts in the middle of a 1,000-transaction stream', () => {
  let hub: TestHub;
  let fleet: Fleet;

  beforeAll(async () => {
    hub = await TestHub.create({ mqttPort: await freePort() });
    await hub.start();
    const members = [await hub.member('流一', '04AA0001'), await hub.member('流二', '04AA0002'), await hub.member('流三', '04AA0003')];
    fleet = await startFleet({ url: hub.running.mqttUrl, count: KIOSKS, deviceIdPrefix: PREFIX, members, resendIntervalMs: 2_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await hub?.cleanup();
  });

  /**
   * Works around a hub bug (reported, cloud/ is not ours to change): DeviceGateway.stop() ends its MQTT
   * client while transactions are still being applied, and the ack publish of each of those rejects with
   * "client disconnecting" inside a handler whose promise nobody awaits (`void this.onMessage(…)`), i.e. an
   * unhandled rejection per in-flight transaction, which kills a plain Node process. Losing those acks is
   * harmless (the kiosks resend and get a replay ack); only the rejection is silenced here.
   */
  function swallowAcksAfterGatewayStop(): void {
    const client = (hub.running.gateway as unknown as { client: MqttClient }).client;
    const publishAsync = client.publishAsync.bind(client);
    client.publishAsync = ((...args: Parameters<MqttClient['publishAsync']>) =>
      publishAsync(...args).catch(() => undefined)) as MqttClient['publishAsync'];
  }

  /** Kiosks record transactions at a steady pace, whether or not the hub is there: the stream never pauses. */
  async function stream(): Promise<void> {
    for (let i = 0; i < TX_PER_KIOSK; i++) {
      for (const kiosk of fleet.kiosks) kiosk.topUp(100 + ((i * 7 + kiosk.deviceId.length) % 50) * 100);
      await delay(40);
    }
  }

  const recorded = () => fleet.kiosks.reduce((sum, kiosk) => sum + kiosk.transactions.length, 0);
  const acked = () => fleet.kiosks.reduce((sum, kiosk) => sum + kiosk.acksOf('ok').length, 0);

  /** Restarts the hub once `fraction` of the stream is recorded and the hub has acked part of it since it started. */
  async function restartMidStream(fraction: number): Promise<{ recorded: number; acked: number }> {
    const ackedBefore = acked();
    while (recorded() < fraction * KIOSKS * TX_PER_KIOSK || acked() === ackedBefore) await delay(5);
    const at = { recorded: recorded(), acked: acked() };
    swallowAcksAfterGatewayStop();
    await hub.stop();
    await delay(300); // a short outage: kiosks keep recording while they cannot reach anything
    await hub.start();
    return at;
  }

  it('posts every txId exactly once, with the right amounts, after two restarts', async () => {
    const streaming = stream();
    const restarts = [await restartMidStream(0.2), await restartMidStream(0.55)];
    await streaming;
    // Both restarts hit a stream in progress: more to record, and acks still owed.
    for (const at of restarts) expect(at.recorded).toBeLessThan(KIOSKS * TX_PER_KIOSK);
    expect(restarts[1]!.acked).toBeGreaterThan(restarts[0]!.acked);
    await fleet.drained(45_000);

    const all = fleet.kiosks.flatMap((kiosk) => kiosk.transactions);
    expect(all).toHaveLength(KIOSKS * TX_PER_KIOSK);
    expect(fleet.kiosks.flatMap((kiosk) => kiosk.acksOf('error'))).toEqual([]);
    const expected = outboxTotals(all);
    const posted = await ledgerTotals(hub.running.db, `${PREFIX}-`);
    expect({ count: posted.count, sumFen: posted.sumFen }).toEqual({ count: expected.count, sumFen: expected.sumFen });
    expect(posted.amounts).toEqual(expected.amounts);
  }, 90_000);
});
