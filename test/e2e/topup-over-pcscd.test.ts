import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { startKiosk, type RunningKiosk } from '../../device/kiosk-app.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { startPcscd, type PcscdHandle } from '../helpers/pcscd.ts';
import { TestHub } from '../helpers/hub.ts';
import { waitForView } from '../helpers/kiosk-view.ts';

/**
 * The whole spine, across every real boundary this machine has: a virtual card on vsmartcard's vpcd
 * reader → the real pcscd → nfc-pcsc in the kiosk → MQTT (embedded Aedes) → the hub's ledger on PGlite
 * → ack → ESC/POS bytes over TCP to the printer emulator, decoded back to text.
 */
describe('tap a card, top up ¥100, print the receipt', () => {
  let pcscd: PcscdHandle;
  let hub: TestHub;
  let printer: Awaited<ReturnType<typeof startPrinterEmulator>>;
  let kiosk: RunningKiosk;
  let dataDir: string;
  let member: MemberSnapshot;

  beforeAll(async () => {
    pcscd = await startPcscd();
    hub = await TestHub.create();
    await hub.start();
    member = await hub.member('张三', '04A22B1C', 5000);
    printer = await startPrinterEmulator({ host: '127.0.0.1', port: 0 });
    dataDir = await mkdtemp(join(tmpdir(), 'mk-kiosk-'));
    const printerAddress = { host: '127.0.0.1', port: printer.port };
    kiosk = await startKiosk(
      {
        deviceId: 'kiosk-e2e',
        storeName: '旗舰店 Flagship Store',
        mqttUrl: hub.running.mqttUrl,
        dataDir,
        ui: { host: '127.0.0.1', port: 0 },
        printer: printerAddress,
        nfc: 'pcsc',
        billValidator: 'emulated',
      },
      { reader: new PcscCardReader(createLogger('nfc')), printer: new ReceiptPrinter(printerAddress) },
    );
  });

  afterAll(async () => {
    await kiosk?.stop();
    await printer?.close();
    await hub?.cleanup();
    await pcscd?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('credits principal +10000 fen exactly once and prints the amount and the new balance', async () => {
    const card = new VirtualCard({ uid: '04A22B1C' });
    await card.insert(pcscd.vpcdPort);
    const greeted = await waitForView(kiosk.url, (view) => view.screen.name === 'member');
    expect(greeted.screen).toMatchObject({ name: 'member', member: { memberId: member.memberId, displayName: '张三' }, offline: false });

    const receiptPrinted = once(printer, 'receipt') as Promise<[string]>;
    const response = await fetch(new URL('/emulator/bill-stacked', kiosk.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amountFen: 10000 }),
    });
    expect(response.status).toBe(200);
    const { txId } = (await response.json()) as { txId: string };

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
    const after = await hub.running.ledger.findMemberByCard('04A22B1C');
    expect(after?.balances.principalFen).toBe(member.balances.principalFen + 10000);
    await card.remove();
  });
});
