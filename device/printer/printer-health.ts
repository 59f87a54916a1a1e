import { HealthRecord } from '../health/health-record.ts';
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
export class PrinterHealth extends HealthRecord {
  constructor(name: string) {
    super({ ...initialHealth('printer', name), paper: 'unknown', counters: { printed: 0, failed: 0 } });
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
    return code === undefined ? null : this.faultSince(code, `receipt printer ${describeFault(code)}`);
  }
}
