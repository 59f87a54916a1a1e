import { setTimeout as sleep } from 'node:timers/promises';
import type { Backoff } from '../hardware/backoff.ts';
import { ReconnectingDevice } from '../hardware/reconnecting-device.ts';
import type { PrinterStatus } from './printer-status.ts';
import type { ReceiptPrinter } from './receipt-printer.ts';

export interface PrinterWatchOptions {
  /** How often a reachable printer is asked for its status (DLE EOT), which also refreshes its health. */
  pollMs?: number;
  backoff?: Backoff;
}

/** Resolves with the first failure of a status poll: the printer is gone (switched off, unplugged: ENXIO). */
async function pollUntilLost(printer: ReceiptPrinter, pollMs: number, signal: AbortSignal): Promise<Error> {
  for (;;) {
    await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return new Error('printer watch stopped');
    try {
      await printer.printerStatus();
    } catch (error) {
      return error as Error;
    }
  }
}

/**
 * Follows whether the printer can be reached, between jobs too: ReceiptPrinter opens a connection per
 * operation, so nothing else would notice a printer that went away or came back. 'up' carries the
 * status read on (re)connecting; every poll also updates printer.health(). Call start(), and stop() on
 * shutdown.
 */
export function watchPrinter(printer: ReceiptPrinter, options: PrinterWatchOptions = {}): ReconnectingDevice<PrinterStatus> {
  const pollMs = options.pollMs ?? 10_000;
  let polling = new AbortController();
  return new ReconnectingDevice<PrinterStatus>({
    connect: async () => {
      const status = await printer.printerStatus();
      polling = new AbortController();
      return { handle: status, lost: pollUntilLost(printer, pollMs, polling.signal) };
    },
    disconnect: async () => polling.abort(),
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
}
