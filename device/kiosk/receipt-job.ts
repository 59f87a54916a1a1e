import { maskCardUid } from '../../shared/card.ts';
import type { Logger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { KioskStore, OutboxEntry } from '../store/kiosk-store.ts';
import type { TopUpReceipt } from '../printer/receipt.ts';

export interface ReceiptPort {
  printTopUp(receipt: TopUpReceipt): Promise<void>;
}

/** The part of the hub link a receipt waits on. */
export interface SettlementSource {
  on(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
  off(event: 'settled', listener: (entry: OutboxEntry) => void): unknown;
}

export interface ReceiptJob {
  entry: OutboxEntry;
  member: MemberSnapshot;
  storeName: string;
  deviceId: string;
  store: KioskStore;
  hub: SettlementSource;
  printer: ReceiptPort;
  logger: Logger;
  /** How long to wait for the hub's confirmation so the receipt can show the confirmed balance. */
  ackWaitMs: number;
}

/**
 * Prints the receipt for a recorded top-up: after the hub confirms it (showing the confirmed balance), or,
 * if the hub is slow or unreachable, with the kiosk's own balance marked "pending sync". Resolves true when
 * printed; a printer failure is logged and reported, never thrown — the top-up itself is already safe.
 */
export async function printTopUpReceipt(job: ReceiptJob): Promise<boolean> {
  const { entry, member, store } = job;
  const settled = await waitUntilSettled(job);
  const confirmed = settled.state === 'synced' ? store.cachedMember(member.cardUid) : undefined;
  const receipt: TopUpReceipt = {
    storeName: job.storeName,
    deviceId: job.deviceId,
    memberName: member.displayName,
    cardUidMasked: maskCardUid(member.cardUid),
    amountFen: entry.tx.body.amountFen,
    ...(entry.tx.body.pricing ? { bonus: { bonusFen: entry.tx.body.pricing.bonusFen, bonusPoints: entry.tx.body.pricing.bonusPoints } } : {}),
    balances: store.displayBalances(confirmed ?? member),
    txId: entry.tx.txId,
    seq: entry.tx.seq,
    at: new Date(entry.tx.createdAt),
    pendingSync: settled.state === 'pending',
  };
  try {
    await job.printer.printTopUp(receipt);
    return true;
  } catch (error) {
    job.logger.error({ txId: entry.tx.txId, err: (error as Error).message }, 'receipt not printed');
    return false;
  }
}

/** Resolves with the entry once the hub settles it, or as it stands after the wait. */
function waitUntilSettled({ entry, store, hub, ackWaitMs }: ReceiptJob): Promise<OutboxEntry> {
  const current = store.entry(entry.tx.txId) ?? entry;
  if (current.state !== 'pending') return Promise.resolve(current);
  return new Promise((resolve) => {
    const onSettled = (settled: OutboxEntry) => {
      if (settled.tx.txId !== entry.tx.txId) return;
      clearTimeout(timer);
      hub.off('settled', onSettled);
      resolve(settled);
    };
    const timer = setTimeout(() => {
      hub.off('settled', onSettled);
      resolve(store.entry(entry.tx.txId) ?? entry);
    }, ackWaitMs);
    hub.on('settled', onSettled);
  });
}
