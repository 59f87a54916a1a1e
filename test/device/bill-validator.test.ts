import { mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BillValidator, type BillEvent, type BillValidatorOptions } from '../../device/bill-validator/bill-validator.ts';
import { Header } from '../../device/bill-validator/cctalk-headers.ts';
import { CctalkValidatorEmulator, type CctalkValidatorOptions } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';
import { nextEvent } from '../helpers/events.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


/** Resolves after the emulator has answered `count` more event-buffer polls: the adapter has seen everything before. */
async function polls(emulator: CctalkValidatorEmulator, count = 2): Promise<void> {
  for (let i = 0; i < count; i += 1) await nextEvent(emulator, 'request', (request: { header: number }) => request.header === Header.readBufferedBillEvents);
}

async function rig(options: { emulator?: CctalkValidatorOptions; validator?: Partial<BillValidatorOptions> } = {}) {
  const pair = await openPtyPair();
  cleanups.push(() => pair.stop());
  const emulator = await CctalkValidatorEmulator.open(pair.devicePath, options.emulator);
  cleanups.push(() => emulator.close());
  // A request timeout far above a busy machine's pty round trip, so only a validator that really stays
  // silent (setReplyFault('noReply')) times out; 3 attempts of it still fail within seconds.
  const validator = new BillValidator({ path: pair.hostPath, pollIntervalMs: 20, requestTimeoutMs: 1_000, retries: 2, ...options.validator });
  const stacked: BillEvent[] = [];
  validator.on('bill-stacked', (bill) => stacked.push(bill));
  await validator.start();
  cleanups.push(() => validator.stop());
  return { pair, emulator, validator, stacked };
}

describe('bill validator over a serial line (socat pty, emulated ccTalk validator)', () => {
  it.each([true, false])('identifies the device, stays disabled until enable(), then credits a ¥100 bill once (echo: %s)', async (echo) => {
    const { emulator, validator, stacked } = await rig({ emulator: { echo } });
    expect(validator.identity).toEqual({ category: 'Bill Validator', manufacturer: 'EMU', productCode: 'CCTALK-EMU', serialNumber: 12345, softwareRevision: '1.0' });
    expect(validator.billTable.slice(0, 6).map((bill) => bill.valueFen)).toEqual([500, 1000, 2000, 5000, 10_000, null]);
    expect(validator.health()).toMatchObject({ kind: 'bill-validator', present: true, ready: true, fault: null });
    expect(emulator.enabled).toBe(false);
    await validator.enable();
    expect(emulator.enabled).toBe(true);

    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    expect(emulator.insertBill(10_000)).toBe('stacked');
    expect(await credited).toEqual({ valueFen: 10_000, billType: 5, eventCounter: 1 });
    await polls(emulator);
    expect(stacked).toHaveLength(1);
    expect(validator.health().counters).toMatchObject({ billsStacked: 1, stackedFen: 10_000 });
  });

  it('refuses bills while disabled and bills it does not accept, crediting nothing', async () => {
    const { emulator, validator, stacked } = await rig();
    const disabled = nextEvent(validator, 'bill-rejected');
    expect(emulator.insertBill(10_000)).toBe('rejected');
    expect(await disabled).toEqual({ reason: 'disabled' });
    await validator.enable();
    const inhibited = nextEvent(validator, 'bill-rejected');
    expect(emulator.insertBill(500)).toBe('rejected'); // ¥5 is not among the accepted bills
    expect(await inhibited).toEqual({ reason: 'inhibited' });
    const fraud = nextEvent(validator, 'bill-rejected');
    emulator.fraud();
    expect(await fraud).toEqual({ reason: 'string-fraud' });
    await validator.disable();
    expect(emulator.insertBill(2000)).toBe('rejected');
    await polls(emulator);
    expect(stacked).toEqual([]);
  });

  it('holds a bill in escrow until the host stacks or returns it', async () => {
    const { emulator, validator, stacked } = await rig({ validator: { escrow: true } });
    await validator.enable();

    const held = nextEvent<BillEvent>(validator, 'bill-escrow');
    expect(emulator.insertBill(5000, { escrow: true })).toBe('escrow');
    expect(await held).toEqual({ valueFen: 5000, billType: 4, eventCounter: 1 });
    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    await validator.stackEscrow();
    expect(await credited).toEqual({ valueFen: 5000, billType: 4, eventCounter: 2 });

    const heldAgain = nextEvent<BillEvent>(validator, 'bill-escrow');
    emulator.insertBill(2000, { escrow: true });
    await heldAgain;
    const returned = nextEvent(validator, 'bill-returned');
    await validator.returnEscrow();
    expect(await returned).toEqual({ billType: 3 });
    await expect(validator.returnEscrow()).rejects.toMatchObject({ reason: 'escrow-empty' });
    await polls(emulator);
    expect(stacked.map((bill) => bill.valueFen)).toEqual([5000]);
  });

  it('stacks an escrowed bill by itself when the host did not ask for escrow', async () => {
    const { emulator, validator } = await rig();
    await validator.enable();
    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    emulator.insertBill(2000, { escrow: true });
    expect(await credited).toMatchObject({ valueFen: 2000, eventCounter: 2 });
  });

  it.each(['badChecksum', 'busy', 'garbage'] as const)('rides out %s replies by asking again', async (fault) => {
    const { emulator, validator, stacked } = await rig();
    await validator.enable();
    const faults: unknown[] = [];
    validator.on('fault', (event) => faults.push(event));
    emulator.setReplyFault(fault, 2);
    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    emulator.insertBill(1000);
    expect(await credited).toMatchObject({ valueFen: 1000 });
    await polls(emulator);
    expect(stacked).toHaveLength(1);
    expect(faults).toEqual([]);
    expect(validator.health().counters.cctalkRetries).toBeGreaterThanOrEqual(2);
  });

  it('reports a silent validator as a fault after the retries and recovers when it answers again', async () => {
    const { emulator, validator } = await rig();
    await validator.enable();
    emulator.setReplyFault('noReply');
    const fault = await nextEvent<{ code: string; message: string }>(validator, 'fault');
    expect(fault.code).toBe('no-reply');
    expect(fault.message).toMatch(/no valid reply from ccTalk address 40 to header 159 \(readBufferedBillEvents\) after 3 attempts/);
    expect(validator.health()).toMatchObject({ ready: false, fault: { code: 'no-reply' } });
    emulator.insertBill(10_000); // stacked while the line was dead: still in the buffer
    const cleared = nextEvent(validator, 'fault-cleared');
    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    emulator.clearReplyFaults();
    expect(await cleared).toEqual({ code: 'no-reply' });
    expect(await credited).toMatchObject({ valueFen: 10_000 });
    expect(validator.health()).toMatchObject({ ready: true, fault: null });
  });

  it('reports jams and stacker conditions with their codes, and clears them', async () => {
    const { emulator, validator } = await rig();
    const jam = nextEvent(validator, 'fault');
    emulator.jam();
    expect(await jam).toMatchObject({ code: 'jam' });
    expect(validator.health()).toMatchObject({ ready: false, fault: { code: 'jam' } });
    const jamCleared = nextEvent(validator, 'fault-cleared');
    emulator.clearJam(); // the self-check now reports no fault
    expect(await jamCleared).toEqual({ code: 'jam' });

    const full = nextEvent(validator, 'fault');
    emulator.stackerFull();
    expect(await full).toMatchObject({ code: 'stacker-full' });
    const removed = nextEvent(validator, 'fault', (fault: { code: string }) => fault.code === 'stacker-removed');
    emulator.removeStacker();
    await removed;
    expect(validator.health().stacker).toEqual({ bills: 0, capacity: null, removed: true });
    const cleared: string[] = [];
    validator.on('fault-cleared', ({ code }) => cleared.push(code));
    const health = nextEvent(validator, 'health', (h: { fault: unknown }) => h.fault === null);
    emulator.insertStacker();
    await health;
    expect(cleared.sort()).toEqual(['stacker-full', 'stacker-removed']);
    expect(validator.health()).toMatchObject({ ready: true, stacker: { removed: false } });
  });

  it('sees a power cycle as a device reset, sets the device up again and credits nothing twice', async () => {
    const { emulator, validator, stacked } = await rig();
    await validator.enable();
    const first = nextEvent(validator, 'bill-stacked');
    emulator.insertBill(5000);
    await first;
    const reset = nextEvent(validator, 'device-reset');
    emulator.powerCycle();
    await reset;
    await polls(emulator); // set up again: accepted types and master inhibit restored
    expect(emulator.enabled).toBe(true);
    const second = nextEvent<BillEvent>(validator, 'bill-stacked');
    emulator.insertBill(10_000);
    expect(await second).toMatchObject({ valueFen: 10_000, eventCounter: 1 });
    await polls(emulator);
    expect(stacked.map((bill) => [bill.valueFen, bill.eventCounter])).toEqual([[5000, 1], [10_000, 1]]);
    expect(validator.health().counters.deviceResets).toBe(1);
  });

  it('follows the counter across the 255 → 1 wrap', async () => {
    const { emulator, validator, stacked } = await rig({ emulator: { eventCounter: 250 } });
    await validator.enable();
    for (let batch = 0; batch < 4; batch += 1) {
      const done = nextEvent(validator, 'bill-stacked', (bill: BillEvent) => bill === stacked.at(-1) && stacked.length === 3 * (batch + 1));
      for (let i = 0; i < 3; i += 1) emulator.insertBill(1000);
      await done;
    }
    expect(stacked.map((bill) => bill.eventCounter)).toEqual([251, 252, 253, 254, 255, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('reports events lost when more than 5 happen between polls, and credits only the bills it saw', async () => {
    const { emulator, validator, stacked } = await rig();
    await validator.enable();
    const lost = nextEvent(validator, 'events-lost');
    // The emulator runs in this process: six bills go in between two polls.
    for (let i = 0; i < 6; i += 1) emulator.insertBill(10_000);
    expect(await lost).toEqual({ missed: 1 });
    await polls(emulator);
    expect(stacked.map((bill) => bill.eventCounter)).toEqual([2, 3, 4, 5, 6]);
    expect(validator.health().counters.eventsLost).toBe(1);
  });

  it('reopens the port with backoff when the serial device goes away and comes back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validator-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // Like a udev symlink: the stable name the kiosk opens, pointing at whichever tty is there now.
    const path = join(dir, 'ttyValidator');
    const plugIn = async (): Promise<{ pair: PtyPair; emulator: CctalkValidatorEmulator }> => {
      const pair = await openPtyPair();
      await unlink(path).catch(() => undefined);
      await symlink(pair.hostPath, path);
      return { pair, emulator: await CctalkValidatorEmulator.open(pair.devicePath) };
    };
    let line = await plugIn();
    const validator = new BillValidator({ path, pollIntervalMs: 20, requestTimeoutMs: 1_000, reopen: { initialMs: 50, maxMs: 200 } });
    await validator.start();
    cleanups.push(async () => {
      await validator.stop();
      await line.emulator.close();
      await line.pair.stop();
    });
    await validator.enable();

    const disconnected = nextEvent(validator, 'disconnected');
    await line.emulator.close();
    await line.pair.stop();
    await disconnected;
    expect(validator.health()).toMatchObject({ present: false, fault: { code: 'unreachable' } });

    const connected = nextEvent(validator, 'connected');
    line = await plugIn();
    await connected;
    expect(validator.health()).toMatchObject({ present: true, ready: true, fault: null });
    expect(line.emulator.enabled).toBe(true); // the new device got the kiosk's enable, too
    const credited = nextEvent<BillEvent>(validator, 'bill-stacked');
    line.emulator.insertBill(2000);
    expect(await credited).toMatchObject({ valueFen: 2000 });
  });
});
