import { HealthRecord } from '../health/health-record.ts';
import { initialHealth, type PeripheralKind } from '../health/peripheral-health.ts';

/**
 * A card reader's PeripheralHealth (NFC or magstripe), kept current by its adapter: presence, a fault
 * with the time it started, the last error and counters. Emits 'change' with a copy on every real change,
 * which is what the kiosk's health registry listens to.
 */
export class ReaderHealth extends HealthRecord {
  constructor(kind: PeripheralKind, name: string) {
    super(initialHealth(kind, name));
  }

  /** Present and working (fault cleared), or gone. */
  presence(present: boolean, name = this.current.name): void {
    this.update({ name, present, ready: present && this.current.fault === null });
  }

  fault(code: string, message: string): void {
    this.update({ ready: false, fault: this.faultSince(code, message) });
  }

  clearFault(): void {
    this.update({ fault: null, ready: this.current.present });
  }

  error(message: string): void {
    this.update({ lastError: { message, at: new Date().toISOString() } });
  }
}
