import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillValidator, type BillEvent } from '../../device/bill-validator/bill-validator.ts';
import { Header } from '../../device/bill-validator/cctalk-headers.ts';
import { CctalkValidatorEmulator } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';
import { DEFAULT_DEADLINE_MS, nextEvent } from '../helpers/events.ts';

/**
 * Exactly-once credit across a kiosk restart. The validator (the emulator) keeps running; the kiosk's
 * adapter dies and comes back with whatever counter the host had durably recorded with its last credit.
 */
describe('bill credit across a kiosk restart', () => {
  let pair: PtyPair;
  let device: CctalkValidatorEmulator;
  /** The host's durable store: the counter of the last credited bill, written with the credit. */
  let persisted: number | undefined;

  beforeAll(async () => {
    pair = await openPtyPair();
    device = await CctalkValidatorEmulator.open(pair.devicePath);
  });
  afterAll(async () => {
    await device.close();
    await pair.stop();
  });

  /** Starts an adapter the way the kiosk does and returns what it emitted by the time it had polled twice more. */
  async function runKiosk(during?: (validator: BillValidator) => Promise<void>): Promise<{ validator: BillValidator; credited: BillEvent[] }> {
    // The request timeout is far above a busy machine's pty round trip: this file is about restarts, not
    // about a validator that stops answering (bill-validator.test.ts covers that).
    const validator = new BillValidator({ path: pair.hostPath, pollIntervalMs: 20, requestTimeoutMs: 2_000, lastEventCounter: persisted });
    const credited: BillEvent[] = [];
    validator.on('bill-stacked', (bill) => credited.push(bill));
    await validator.start();
    await during?.(validator);
    for (let polls = 1; polls <= 2; polls++) {
      await nextEvent(device, 'request', (request: { header: number }) => request.header === Header.readBufferedBillEvents, {
        what: `the validator's poll ${polls} of 2 after start`,
      });
    }
    return { validator, credited };
  }

  it('emits a bill the host never recorded exactly once, and never again once recorded', async () => {
    // First start ever: nothing persisted, so the device's current counter becomes the baseline.
    const first = await runKiosk(async (validator) => {
      persisted = validator.eventCounter;
      await validator.enable();
      const stacked = nextEvent<BillEvent>(validator, 'bill-stacked', undefined, { what: 'the stacked bill to be reported' });
      device.insertBill(10_000);
      await stacked;
    });
    expect(persisted).toBe(0);
    expect(first.credited).toEqual([{ valueFen: 10_000, billType: 5, eventCounter: 1 }]);
    // The kiosk dies before its store records the credit: `persisted` stays 0.
    await first.validator.stop();

    const second = await runKiosk();
    expect(second.credited).toEqual([{ valueFen: 10_000, billType: 5, eventCounter: 1 }]);
    persisted = second.credited[0]!.eventCounter; // this time the credit is durable
    await second.validator.stop();

    const third = await runKiosk();
    expect(third.credited).toEqual([]);
    await third.validator.stop();
    // Three starts with two polls awaited each, and the stacked bill.
  }, 7 * DEFAULT_DEADLINE_MS + 30_000);

  it('emits bills stacked while the kiosk was down, and nothing the host already has', async () => {
    // The kiosk enables the validator for a member and dies; the device keeps taking bills meanwhile.
    const dying = await runKiosk((validator) => validator.enable());
    await dying.validator.stop();
    expect(device.insertBill(2000)).toBe('stacked');
    expect(device.insertBill(5000)).toBe('stacked');
    const restarted = await runKiosk();
    expect(restarted.credited).toEqual([
      { valueFen: 2000, billType: 3, eventCounter: 2 },
      { valueFen: 5000, billType: 4, eventCounter: 3 },
    ]);
    await restarted.validator.stop();
  });

  it('takes the current counter as the baseline on a first start ever, emitting nothing old', async () => {
    persisted = undefined;
    const fresh = await runKiosk();
    expect(fresh.credited).toEqual([]);
    expect(fresh.validator.eventCounter).toBe(3);
    await fresh.validator.stop();
  });
});
