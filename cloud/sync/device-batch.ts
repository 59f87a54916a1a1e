import type { Logger } from '../../shared/logger.ts';
import type { DeviceTransaction } from '../../shared/contract/payloads.ts';
import type { Database } from '../db/database.ts';
import type { DeviceBatchContext, DeviceBatchWriter, DeviceTransactionHandler, DeviceTransactionOutcome } from '../kernel/module.ts';
import type { DeviceSequences, SequenceGap } from './device-sequences.ts';

/** A device transaction waiting for its batch: validated, with the module that handles its kind. */
export interface QueuedTransaction {
  readonly tx: DeviceTransaction;
  readonly handler: DeviceTransactionHandler;
}

/** What a committed batch decided for one of its transactions. */
export type Decision =
  | { readonly item: QueuedTransaction; readonly outcome: Exclude<DeviceTransactionOutcome, { status: 'deferred' }> }
  /** Its device sequence number belongs to another transaction: nothing posted, nothing settled. */
  | { readonly item: QueuedTransaction; readonly outcome: { status: 'conflict'; claimedBy: string } };

export interface BatchResult {
  readonly decisions: Decision[];
  /** Per device, the hole to ask it to resend (at most one request per device and batch). */
  readonly gaps: Map<string, SequenceGap>;
  /** Not decided in this batch (their txId came earlier in it): they go into the next one. */
  readonly deferred: QueuedTransaction[];
}

/**
 * One batch of device transactions in one database transaction: claim their device sequence numbers (settled, as
 * the batch answers every transaction it claims for, or defers a copy of one it answers), let each kind's handler
 * write its transactions, advance each device's contiguous mark — and commit. Only
 * then may anything be acknowledged. Handlers prepare (read rules, price) before the transaction opens, so it is
 * held only for writing; they run in runs of consecutive transactions of one kind, which keeps a member's order
 * across kinds.
 */
export async function applyDeviceBatch(db: Database, sequences: DeviceSequences | undefined, batch: readonly QueuedTransaction[], logger: Logger): Promise<BatchResult> {
  const runs = runsOfOneKind(batch);
  const writers = await Promise.all(runs.map((run) => run[0]!.handler.prepareBatch(run.map((item) => item.tx), { logger })));
  return db.transaction(async (tx) => {
    const claims = sequences ? await sequences.claimAll(tx, batch.map(({ tx: t }) => ({ deviceId: t.deviceId, seq: t.seq, txId: t.txId }))) : undefined;
    const outcomes = new Map<QueuedTransaction, DeviceTransactionOutcome | Extract<Decision['outcome'], { status: 'conflict' }>>();
    batch.forEach((item, index) => {
      const claim = claims?.[index];
      if (claim && !claim.ok) outcomes.set(item, { status: 'conflict', claimedBy: claim.claimedBy });
    });
    for (const [index, run] of runs.entries()) {
      const claimed = run.filter((item) => !outcomes.has(item));
      if (claimed.length > 0) await write(writers[index]!, claimed, { tx, logger }, outcomes);
    }
    const decisions: Decision[] = [];
    const deferred: QueuedTransaction[] = [];
    for (const item of batch) {
      const outcome = outcomes.get(item)!;
      if (outcome.status === 'deferred') deferred.push(item);
      else decisions.push({ item, outcome } as Decision);
    }
    const answered = decisions.filter((d) => d.outcome.status !== 'conflict').map(({ item }) => ({ deviceId: item.tx.deviceId, seq: item.tx.seq }));
    // Every number claimed here is settled, a deferred copy's too (it names the same transaction).
    const claimed = batch.filter((_, index) => claims?.[index]?.ok).map(({ tx: t }) => ({ deviceId: t.deviceId, seq: t.seq }));
    const settled = sequences ? await sequences.advanceAll(tx, claimed) : new Map();
    return { decisions, gaps: gapsToAsk(settled, answered), deferred };
  });
}

async function write(writer: DeviceBatchWriter, items: QueuedTransaction[], context: DeviceBatchContext, into: Map<QueuedTransaction, unknown>): Promise<void> {
  const outcomes = await writer(
    items.map((item) => item.tx),
    context,
  );
  if (outcomes.length !== items.length) throw new Error(`a device transaction handler answered ${outcomes.length} of ${items.length} transactions`);
  items.forEach((item, index) => into.set(item, outcomes[index]));
}

function runsOfOneKind(batch: readonly QueuedTransaction[]): QueuedTransaction[][] {
  const runs: QueuedTransaction[][] = [];
  for (const item of batch) {
    const last = runs.at(-1);
    if (last && last[0]!.handler === item.handler) last.push(item);
    else runs.push([item]);
  }
  return runs;
}

/**
 * Asks a device to resend a hole below what this batch settled only when one of its transactions is the first
 * past the hole, or filled the run before it: later arrivals past the same hole would only repeat the request.
 */
function gapsToAsk(settled: Map<string, { contiguous: number; gap?: SequenceGap }>, answered: ReadonlyArray<{ deviceId: string; seq: number }>): Map<string, SequenceGap> {
  const gaps = new Map<string, SequenceGap>();
  for (const { deviceId, seq } of answered) {
    const mark = settled.get(deviceId);
    const gap = mark?.gap;
    if (gap && (seq === gap.toSeq + 1 || seq <= mark.contiguous)) gaps.set(deviceId, gap);
  }
  return gaps;
}
