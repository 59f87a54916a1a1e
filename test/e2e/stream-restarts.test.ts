import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { startFleet, type Fleet } from '../../device/emulators/fleet-simulator.ts';
import { TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/ports.ts';
import { ledgerTotals, outboxTotals } from '../helpers/device-ledger.ts';
import { waitFor, withDeadline } from '../helpers/events.ts';

const KIOSKS = 10;
const TX_PER_KIOSK = 100;
const PREFIX = 'stream';
/** Deadlines of the waits below: each generous for a busy two-core machine, the test's timeout above their sum. */
const STEP_MS = 30_000;
const DRAIN_MS = 90_000;
const SETUP_TIMEOUT_MS = 120_000;
/** Per restart: the trigger, hub stop, the kiosks noticing, one more round recorded, hub start. */
const TEST_TIMEOUT_MS = 2 * 5 * STEP_MS + STEP_MS + DRAIN_MS + 60_000;

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
    // The kiosks' own resend policy: a transaction lost without a reconnect (published while the restarted
    // hub's gateway was not yet subscribed) goes out again once its ack is overdue (5 s), well inside the drain
    // deadline, and backs off while a busy hub has simply not acked it yet.
    fleet = await startFleet({ url: hub.running.mqttUrl, count: KIOSKS, deviceIdPrefix: PREFIX, members });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await fleet?.stop();
    await hub?.cleanup();
  });

  const TOTAL = KIOSKS * TX_PER_KIOSK;
  /** Where each restart is triggered: once this much of the stream is recorded (and the hub has acked some since it started). */
  const RESTART_AT = [0.2, 0.55].map((fraction) => fraction * TOTAL);
  /** Restarts whose hub stop has begun. */
  let restartsBegun = 0;

  /**
   * Kiosks record transactions at a steady pace, whether or not the hub is there: the stream never waits for
   * the hub (the 40 ms between rounds is the pace of the stream, not a wait for anything). It does not run
   * more than a round past a restart's trigger point before that restart has begun, so on a slow machine
   * both restarts still land in the middle of the stream rather than after its end.
   */
  async function stream(): Promise<void> {
    for (let i = 0; i < TX_PER_KIOSK; i++) {
      const next = RESTART_AT[restartsBegun];
      if (next !== undefined && recorded() >= next + KIOSKS) {
        const waitingFor = restartsBegun;
        await waitFor(() => restartsBegun > waitingFor, { timeoutMs: 2 * STEP_MS, what: `restart ${waitingFor + 1} to begin`, describe: state });
      }
      for (const kiosk of fleet.kiosks) kiosk.topUp(100 + ((i * 7 + kiosk.deviceId.length) % 50) * 100);
      await delay(40);
    }
  }

  const recorded = () => fleet.kiosks.reduce((sum, kiosk) => sum + kiosk.transactions.length, 0);
  const acked = () => fleet.kiosks.reduce((sum, kiosk) => sum + kiosk.acksOf('ok').length, 0);
  const state = () => `recorded ${recorded()}, acked ${acked()}, connected ${fleet.kiosks.filter((kiosk) => kiosk.connected).length}/${KIOSKS}`;

  /** Restarts the hub once its share of the stream is recorded and the hub has acked part of it since it started. */
  async function restartMidStream(): Promise<{ recorded: number; acked: number }> {
    const ackedBefore = acked();
    const trigger = RESTART_AT[restartsBegun]!;
    await waitFor(() => recorded() >= trigger && acked() > ackedBefore, {
      timeoutMs: STEP_MS,
      intervalMs: 5,
      what: `${trigger} transactions recorded and an ack from the hub since it started`,
      describe: state,
    });
    const at = { recorded: recorded(), acked: acked() };
    restartsBegun += 1;
    await withDeadline(hub.stop(), STEP_MS, 'the hub (and its broker) to stop');
    // The outage lasts until every kiosk has noticed it and at least one more round was recorded meanwhile:
    // kiosks keep recording while they cannot reach anything.
    await waitFor(() => fleet.kiosks.every((kiosk) => !kiosk.connected), { timeoutMs: STEP_MS, what: 'every kiosk to see the broker gone', describe: state });
    const recordedWhileDown = Math.min(TOTAL, recorded() + KIOSKS);
    await waitFor(() => recorded() >= recordedWhileDown, { timeoutMs: STEP_MS, what: 'a round of transactions recorded during the outage', describe: state });
    await withDeadline(hub.start(), STEP_MS, 'the hub to start again');
    return at;
  }

  it('posts every txId exactly once, with the right amounts, after two restarts', async () => {
    const streaming = stream();
    const restarts = [await restartMidStream(), await restartMidStream()];
    await streaming;
    // Both restarts hit a stream in progress: more to record, and acks still owed.
    for (const at of restarts) expect(at.recorded).toBeLessThan(TOTAL);
    expect(restarts[1]!.acked).toBeGreaterThan(restarts[0]!.acked);
    await fleet.drained(DRAIN_MS);
    expect(fleet.duplicatePublishes()).toBe(0);

    const all = fleet.kiosks.flatMap((kiosk) => kiosk.transactions);
    expect(all).toHaveLength(TOTAL);
    expect(fleet.kiosks.flatMap((kiosk) => kiosk.acksOf('error'))).toEqual([]);
    const expected = outboxTotals(all);
    const posted = await ledgerTotals(hub.running.db, `${PREFIX}-`);
    expect({ count: posted.count, sumFen: posted.sumFen }).toEqual({ count: expected.count, sumFen: expected.sumFen });
    expect(posted.amounts).toEqual(expected.amounts);
  }, TEST_TIMEOUT_MS);
});
