import { EventEmitter } from 'node:events';
import { sameHealth } from '../health/kiosk-health.ts';
import { initialHealth, type PeripheralHealth } from '../health/peripheral-health.ts';
import { PrinterError } from './printer-error.ts';
import { describeFault, printerFaults, type PrinterFaultCode, type PrinterStatus } from './printer-status.ts';

/** The printer's fault for an error on the way to it: it could not be reached, or it did not answer sensibly. */
export function faultOfError(error: unknown): PrinterFaultCode {
  if (error instanceof PrinterError && (error.code === 'no-response' || error.code === 'bad-response')) return 'offline';
  return 'unreachable';
}

/**
 * The printer's PeripheralHealth, kept up to date from what each printer operation learns: a status
 * read, a job printed or not, a link that failed. Emits 'change' with a copy whenever it changes.
 */
export class PrinterHealth extends EventEmitter<{ change: [PeripheralHealth] }> {
  private current: PeripheralHealth;

  constructor(name: string) {
    super();
    this.current = { ...initialHealth('printer', name), paper: 'unknown', counters: { printed: 0, failed: 0 } };
  }

  snapshot(): PeripheralHealth {
    return structuredClone(this.current);
  }

  status(status: PrinterStatus): void {
    const [code] = printerFaults(status);
    this.update({
      present: true,
      ready: code === undefined,
      fault: this.fault(code),
      paper: status.paperEnd ? 'out' : status.paperNearEnd ? 'near-end' : 'ok',
    });
  }

  /** The printer could not be asked: it keeps its last known paper state, which may be stale. */
  failed(error: unknown): void {
    const code = faultOfError(error);
    this.update({
      present: code !== 'unreachable',
      ready: false,
      fault: this.fault(code),
      lastError: { message: (error as Error).message, at: new Date().toISOString() },
    });
  }

  printed(): void {
    this.count('printed');
  }

  unprinted(message: string): void {
    this.count('failed');
    this.update({ lastError: { message, at: new Date().toISOString() } });
  }

  private fault(code: PrinterFaultCode | undefined): PeripheralHealth['fault'] {
    if (code === undefined) return null;
    // A fault that persists keeps its original time, so "since" says how long the kiosk has had it.
    if (this.current.fault?.code === code) return this.current.fault;
    return { code, message: `receipt printer ${describeFault(code)}`, since: new Date().toISOString() };
  }

  private count(counter: 'printed' | 'failed'): void {
    this.update({ counters: { ...this.current.counters, [counter]: (this.current.counters[counter] ?? 0) + 1 } });
  }

  private update(change: Partial<PeripheralHealth>): void {
    const next = { ...this.current, ...change };
    if (sameHealth(this.current, next)) return;
    this.current = { ...next, updatedAt: new Date().toISOString() };
    this.emit('change', this.snapshot());
  }
}
