import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { startPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import type { OutboxEntry } from '../../device/store/kiosk-store.ts';
import { startPcscd, type PcscdHandle } from '../helpers/pcscd.ts';
import { TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/ports.ts';
import { waitForView } from '../helpers/kiosk-view.ts';
import { spawnKiosk, type KioskProcess } from '../helpers/kiosk-process.ts';

/**
 * kill -9 of the kiosk process right after it told the member "done": on restart the top-up is still in
 * the outbox (or already at the hub), and the hub posts it exactly once.
 */
describe('a kiosk killed with SIGKILL right after a top-up', () => {
  let pcscd: PcscdHandle;
  let hub: TestHub;
  let printer: Awaited<ReturnType<typeof startPrinterEmulator>>;
  let member: MemberSnapshot;
  let card: VirtualCard;
  let dataDir: string;
  let env: Record<string, string>;
  let kiosk: KioskProcess | undefined;

  beforeAll(async () => {
    pcscd = await startPcscd();
    hub = await TestHub.create({ mqttPort: await freePort() });
    await hub.start();
    member = await hub.member('李四', '04B7C2D9E1F080', 2000);
    printer = await startPrinterEmulator({ host: '127.0.0.1', port: 0 });
    dataDir = await mkdtemp(join(tmpdir(), 'mk-kiosk-kill-'));
    card = new VirtualCard({ uid: member.cardUid });
    env = {
      DEVICE_ID: 'kiosk-kill9',
      MQTT_URL: hub.running.mqttUrl,
      KIOSK_DATA_DIR: dataDir,
      KIOSK_UI_PORT: '0',
      PRINTER_URL: `tcp://127.0.0.1:${printer.port}`,
      NFC_READER: 'pcsc',
      PCSCLITE_CSOCK_NAME: pcscd.socketPath,
    };
  });

  afterAll(async () => {
    await kiosk?.stop();
    await card?.remove();
    await printer?.close();
    await hub?.cleanup();
    await pcscd?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function stackBill(amountFen: number): Promise<string> {
    const response = await fetch(new URL('/emulator/bill-stacked', kiosk!.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amountFen }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { txId: string }).txId;
  }

  async function outboxOnDisk(): Promise<OutboxEntry[]> {
    return (JSON.parse(await readFile(join(dataDir, 'kiosk.json'), 'utf8')) as { outbox: OutboxEntry[] }).outbox;
  }

  async function postedTimes(txId: string): Promise<number> {
    const rows = await hub.running.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = $1', [txId]);
    return rows.rows[0]!.n;
  }

  async function restartKioskAndDrain(): Promise<void> {
    kiosk = await spawnKiosk(env);
    await waitForView(kiosk.url, (view) => view.hubConnected && view.pendingTransactions === 0);
  }

  it('with the hub reachable: never lost, never doubled', async () => {
    kiosk = await spawnKiosk(env);
    await card.insert(pcscd.vpcdPort);
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.hubConnected);

    const txId = await stackBill(10000);
    await kiosk.kill9();

    const onDisk = (await outboxOnDisk()).find((entry) => entry.tx.txId === txId);
    const atHub = await postedTimes(txId);
    expect(onDisk !== undefined || atHub === 1).toBe(true);

    await restartKioskAndDrain();
    expect(await postedTimes(txId)).toBe(1);
    expect((await hub.running.ledger.findMemberByCard(member.cardUid))?.balances.principalFen).toBe(2000 + 10000);
    await kiosk.stop();
    await card.remove();
  });

  it('with the hub down: the outbox holds it through the kill and the hub posts it once when back', async () => {
    kiosk = await spawnKiosk(env);
    await card.insert(pcscd.vpcdPort);
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.hubConnected);
    await hub.stop();
    await waitForView(kiosk.url, (view) => !view.hubConnected);

    const txId = await stackBill(5000);
    await kiosk.kill9();
    expect((await outboxOnDisk()).find((entry) => entry.tx.txId === txId)?.state).toBe('pending');

    await hub.start();
    await restartKioskAndDrain();
    expect(await postedTimes(txId)).toBe(1);
    expect((await hub.running.ledger.findMemberByCard(member.cardUid))?.balances.principalFen).toBe(2000 + 10000 + 5000);
    expect((await outboxOnDisk()).find((entry) => entry.tx.txId === txId)?.state).toBe('synced');
  });
});
