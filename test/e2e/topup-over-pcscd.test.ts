import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { startKiosk, type RunningKiosk } from '../../device/kiosk-app.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { startEmulatedKioskHardware, type EmulatedKioskHardware } from '../helpers/kiosk-hardware.ts';
import { TestHub } from '../helpers/hub.ts';
import { waitForView } from '../helpers/kiosk-view.ts';
import { nextEventArgs } from '../helpers/events.ts';

/**
 * The whole spine, across every real boundary this machine has: a virtual card on vsmartcard's vpcd
 * reader → the real pcscd → nfc-pcsc in the kiosk; a ¥100 bill into our ccTalk validator emulator on a
 * socat pty → serialport in the kiosk; MQTT (embedded Aedes) → the hub's ledger on PGlite → ack →
 * ESC/POS bytes over TCP to the printer emulator, decoded back to text.
 */
describe('tap a card, top up ¥100, print the receipt', () => {
  let hub: TestHub;
  let hardware: EmulatedKioskHardware;
  let kiosk: RunningKiosk;
  let member: MemberSnapshot;

  beforeAll(async () => {
    hardware = await startEmulatedKioskHardware();
    hub = await TestHub.create();
    await hub.start();
    member = await hub.member('张三', '04A22B1C', 5000);
    const printerAddress = { kind: 'tcp' as const, host: '127.0.0.1', port: hardware.printer.port };
    kiosk = await startKiosk(
      {
        deviceId: 'kiosk-e2e',
        storeName: '旗舰店 Flagship Store',
        mqttUrl: hub.running.mqttUrl,
        dataDir: hardware.dataDir,
        ui: { host: '127.0.0.1', port: 0 },
        printer: printerAddress,
        nfc: 'pcsc',
        billValidator: { kind: 'cctalk', path: hardware.serialCable.hostPath },
      },
      { reader: new PcscCardReader(createLogger('nfc')), printer: new ReceiptPrinter(printerAddress) },
      undefined,
      // The receipt waits for the hub's ack (to print the confirmed balance) longer than a busy machine needs.
      { receiptAckWaitMs: 20_000 },
    );
  });

  afterAll(async () => {
    await kiosk?.stop();
    await hub?.cleanup();
    await hardware?.stop();
  });

  it('credits principal +10000 fen exactly once and prints the amount and the new balance', async () => {
    const card = new VirtualCard({ uid: '04A22B1C' });
    await card.insert(hardware.pcscd.vpcdPort);
    const greeted = await waitForView(kiosk.url, (view) => view.screen.name === 'member');
    expect(greeted.screen).toMatchObject({ name: 'member', member: { memberId: member.memberId, displayName: '张三' }, offline: false });

    const receiptPrinted = nextEventArgs<[string]>(hardware.printer, 'receipt', { timeoutMs: 40_000, what: 'the ¥100 receipt to be printed' });
    const credited = waitForView(kiosk.url, (view) => view.lastTopUp?.amountFen === 10000);
    // The validator was enabled for this member the moment they were shown; the bill goes to escrow and
    // the kiosk stacks it for them.
    expect(hardware.validator.insertBill(10000, { escrow: true })).toBe('escrow');
    const { txId } = (await credited).lastTopUp!;

    const [receipt] = await receiptPrinted;
    expect(receipt).toContain('充值凭条');
    expect(receipt).toContain('￥100.00');
    expect(receipt).toContain('￥150.00');
    expect(receipt).not.toContain('待同步');

    const rows = await hub.running.db.query<{ kind: string; device_id: string }>(
      'SELECT kind, device_id FROM ledger_transactions WHERE idempotency_key = $1',
      [txId],
    );
    expect(rows.rows).toEqual([{ kind: 'cash_topup', device_id: 'kiosk-e2e' }]);
    const after = await hub.running.memberByCard('04A22B1C');
    expect(after?.balances.principalFen).toBe(member.balances.principalFen + 10000);
    await card.remove();
  });

  it('exposes every peripheral as present and ready in the kiosk health', async () => {
    const health = (await (await fetch(new URL('/api/health', kiosk.url))).json()) as {
      overall: string;
      peripherals: Array<{ kind: string; present: boolean; ready: boolean }>;
    };
    expect(health, JSON.stringify(health)).toMatchObject({ overall: 'ok' });
    expect(health.peripherals.map(({ kind, present, ready }) => ({ kind, present, ready })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'bill-validator', present: true, ready: true },
      { kind: 'nfc-reader', present: true, ready: true },
      { kind: 'printer', present: true, ready: true },
    ]);
  });

  it('stops taking bills when the validator jams, says so on screen, and takes them again once cleared', async () => {
    const card = new VirtualCard({ uid: '04A22B1C' });
    await card.insert(hardware.pcscd.vpcdPort);
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.screen.message.en === 'Insert banknotes to top up');
    const before = (await hub.running.memberByCard('04A22B1C'))!.balances.principalFen;

    hardware.validator.jam();
    const jammed = await waitForView(kiosk.url, (view) => view.cashFault?.code === 'jam');
    expect(jammed.screen).toMatchObject({ message: { zh: '纸币器暂停服务，请联系店员' } });
    expect(hardware.validator.insertBill(5000, { escrow: true })).toBe('refused');

    hardware.validator.clearJam();
    await waitForView(kiosk.url, (view) => view.cashFault === null);
    const credited = waitForView(kiosk.url, (view) => view.lastTopUp?.amountFen === 5000 && view.lastTopUp.state === 'synced');
    expect(hardware.validator.insertBill(5000, { escrow: true })).toBe('escrow');
    await credited;
    expect((await hub.running.memberByCard('04A22B1C'))!.balances.principalFen).toBe(before + 5000);
    await card.remove();
  });

  it('offers the receipt again when the paper ran out, and prints it after a new roll', async () => {
    const card = new VirtualCard({ uid: '04A22B1C' });
    await card.insert(hardware.pcscd.vpcdPort);
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.screen.message.en === 'Insert banknotes to top up');
    hardware.printer.setStatus({ paperEnd: true });
    const failed = waitForView(kiosk.url, (view) => view.lastTopUp?.amountFen === 2000 && view.lastTopUp.printed === 'failed');
    expect(hardware.validator.insertBill(2000, { escrow: true })).toBe('escrow');
    const { lastTopUp } = await failed;
    expect(lastTopUp!.state).toBe('synced');

    hardware.printer.loadPaper();
    const reprinted = nextEventArgs<[string]>(hardware.printer, 'receipt', { what: 'the receipt to be printed again' });
    const response = await fetch(new URL('/api/receipt/reprint', kiosk.url), { method: 'POST' });
    expect(response.status).toBe(200);
    const [receipt] = await reprinted;
    expect(receipt).toContain('￥20.00');
    expect(receipt).toContain(lastTopUp!.txId.slice(0, 8));
    await card.remove();
  });
});
