import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { readOutboxOnDisk, type OutboxEntry } from '../../device/store/kiosk-store.ts';
import { startEmulatedKioskHardware, type EmulatedKioskHardware } from '../helpers/kiosk-hardware.ts';
import { TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/ports.ts';
import { VIEW_DEADLINE_MS, waitForView } from '../helpers/kiosk-view.ts';
import { KIOSK_START_DEADLINE_MS, spawnKiosk, type KioskProcess } from '../helpers/kiosk-process.ts';
import { withDeadline } from '../helpers/events.ts';

/** One kiosk start (process up, then a view awaited), for the tests' timeouts: each exceeds the sum of its waits. */
const START_MS = KIOSK_START_DEADLINE_MS + VIEW_DEADLINE_MS;

/**
 * The kiosk as its own process, killed with SIGKILL at the moments that matter for money: right after it
 * told the member "done", and between the validator stacking a bill and the kiosk recording the credit.
 * On restart nothing is lost and nothing is doubled, at the kiosk or at the hub.
 */
describe('a kiosk killed with SIGKILL', () => {
  let hub: TestHub;
  let hardware: EmulatedKioskHardware;
  let member: MemberSnapshot;
  let card: VirtualCard;
  let env: Record<string, string>;
  let kiosk: KioskProcess | undefined;

  beforeAll(async () => {
    hardware = await startEmulatedKioskHardware();
    hub = await TestHub.create({ mqttPort: await freePort() });
    await hub.start();
    member = await hub.member('李四', '04B7C2D9E1F080', 2000);
    card = new VirtualCard({ uid: member.cardUid });
    await card.insert(hardware.pcscd.vpcdPort);
    env = hardware.processEnv('kiosk-kill9', hub.running.mqttUrl);
  }, 180_000);

  afterAll(async () => {
    await kiosk?.stop();
    await card?.remove();
    await hub?.cleanup();
    await hardware?.stop();
  });

  /** Starts the kiosk process and waits until the member on the reader is on screen and bills are taken. */
  async function startKioskWithMember(): Promise<void> {
    kiosk = await spawnKiosk(env);
    await waitForView(kiosk.url, (view) => view.screen.name === 'member' && view.screen.message.en === 'Insert banknotes to top up');
  }

  /** Feeds a bill and resolves with the txId once the kiosk has told the member the top-up is done. */
  async function feedBill(amountFen: number): Promise<string> {
    const done = waitForView(kiosk!.url, (view) => view.lastTopUp?.amountFen === amountFen && view.screen.name === 'member');
    expect(hardware.validator.insertBill(amountFen, { escrow: true })).toBe('escrow');
    return (await done).lastTopUp!.txId;
  }

  async function outboxOnDisk(): Promise<OutboxEntry[]> {
    return readOutboxOnDisk(join(hardware.dataDir, 'kiosk.json'));
  }

  async function postedTimes(txId: string): Promise<number> {
    const rows = await hub.running.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = $1', [txId]);
    return rows.rows[0]!.n;
  }

  async function principal(): Promise<number> {
    return (await hub.running.memberByCard(member.cardUid))!.balances.principalFen;
  }

  /** The kiosk prints its URL only after crediting the bills its validator found on start-up. */
  async function restartKioskAndDrain(): Promise<void> {
    kiosk = await spawnKiosk(env);
    await waitForView(kiosk.url, (view) => view.hubConnected && view.pendingTransactions === 0);
  }

  it('right after "done", with the hub reachable: never lost, never doubled', async () => {
    await startKioskWithMember();
    const txId = await feedBill(10000);
    await kiosk!.kill9();

    const onDisk = (await outboxOnDisk()).find((entry) => entry.tx.txId === txId);
    expect(onDisk !== undefined || (await postedTimes(txId)) === 1).toBe(true);

    await restartKioskAndDrain();
    expect(await postedTimes(txId)).toBe(1);
    expect(await principal()).toBe(2000 + 10000);
    await kiosk!.stop();
  }, 2 * START_MS + VIEW_DEADLINE_MS + 60_000);

  it('right after "done", with the hub down: the outbox holds it and the hub posts it once when back', async () => {
    await startKioskWithMember();
    await withDeadline(hub.stop(), 30_000, 'the hub to stop');
    await waitForView(kiosk!.url, (view) => !view.hubConnected);

    const txId = await feedBill(5000);
    await kiosk!.kill9();
    expect((await outboxOnDisk()).find((entry) => entry.tx.txId === txId)?.state).toBe('pending');

    await withDeadline(hub.start(), 30_000, 'the hub to start again');
    await restartKioskAndDrain();
    expect(await postedTimes(txId)).toBe(1);
    expect(await principal()).toBe(2000 + 10000 + 5000);
    expect((await outboxOnDisk()).find((entry) => entry.tx.txId === txId)?.state).toBe('synced');
    await kiosk!.stop();
  }, 2 * START_MS + 2 * VIEW_DEADLINE_MS + 2 * 30_000 + 60_000);

  it('between the bill being stacked and the credit being recorded: credited once, to the same member', async () => {
    await startKioskWithMember();
    await kiosk!.kill9();
    // The kiosk is dead with the validator still enabled: the bill goes straight into the cash box.
    const topUpsBefore = (await outboxOnDisk()).length;
    expect(hardware.validator.insertBill(2000)).toBe('stacked');

    await restartKioskAndDrain();
    const outbox = await outboxOnDisk();
    expect(outbox).toHaveLength(topUpsBefore + 1);
    const credit = outbox.at(-1)!;
    expect(credit.tx.body).toMatchObject({ memberId: member.memberId, amountFen: 2000 });
    expect(await postedTimes(credit.tx.txId)).toBe(1);
    expect(await principal()).toBe(2000 + 10000 + 5000 + 2000);

    // Once more, killed again after the credit: the same bill is never credited a second time.
    await kiosk!.kill9();
    await restartKioskAndDrain();
    expect(await outboxOnDisk()).toHaveLength(topUpsBefore + 1);
    expect(await principal()).toBe(2000 + 10000 + 5000 + 2000);
  }, 3 * START_MS + 60_000);
});
