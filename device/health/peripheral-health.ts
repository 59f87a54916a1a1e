/**
 * One health model for every kiosk peripheral. Each adapter keeps its own PeripheralHealth up to date;
 * the kiosk shows it to technicians and telemetry publishes it to the fleet.
 */
export type PeripheralKind = 'nfc-reader' | 'magstripe-reader' | 'bill-validator' | 'printer';

export interface PeripheralFault {
  /** Stable machine code, e.g. 'jam', 'stacker-full', 'paper-end', 'cover-open', 'unreachable'. */
  code: string;
  /** What a technician or store clerk should know, in plain words. */
  message: string;
  since: string;
}

export interface PeripheralHealth {
  kind: PeripheralKind;
  /** The configured device, e.g. the reader name, serial path or printer address. */
  name: string;
  present: boolean;
  ready: boolean;
  fault: PeripheralFault | null;
  /** Printers only. */
  paper?: 'ok' | 'near-end' | 'out' | 'unknown';
  /** Bill validators only: bills in the cash box, and the box's capacity when configured. */
  stacker?: { bills: number; capacity: number | null; removed: boolean };
  lastError: { message: string; at: string } | null;
  /** Monotonic event counters (cards read, bills stacked, receipts printed, retries, …). */
  counters: Record<string, number>;
  updatedAt: string;
}

/** A fresh record for a peripheral that has not been seen yet. */
export function initialHealth(kind: PeripheralKind, name: string): PeripheralHealth {
  return { kind, name, present: false, ready: false, fault: null, lastError: null, counters: {}, updatedAt: new Date().toISOString() };
}
