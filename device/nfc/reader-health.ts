import { EventEmitter } from 'node:events';
import { sameHealth } from '../health/kiosk-health.ts';
import { initialHealth, type PeripheralHealth, type PeripheralKind } from '../health/peripheral-health.ts';

/**
 * A card reader's PeripheralHealth (NFC or magstripe), kept current by its adapter: presence, a fault
 * with the time it started, the last error and counters. Emits 'change' with a copy on every real change,
 * which is what the kiosk's health registry listens to.
 */
export class ReaderHealth extends EventEmitter<{ change: [PeripheralHealth] }> {
  private current: PeripheralHealth;

  constructor(kind: PeripheralKind, name: string) {
    super();
    this.current = initialHealth(kind, name);
  }

  snapshot(): PeripheralHealth {
    return structuredClone(this.current);
  }

  /** Present and working (fault cleared), or gone. */
  presence(present: boolean, name = this.current.name): void {
    this.update({ name, present, ready: present && this.current.fault === null });
  }

  fault(code: string, message: string): void {
    // A fault that persists keeps its original time, so "since" says how long the reader has had it.
    const since = this.current.fault?.code === code ? this.current.fault.since : new Date().toISOString();
    this.update({ ready: false, fault: { code, message, since } });
  }

  clearFault(): void {
    this.update({ fault: null, ready: this.current.present });
  }

  error(message: string): void {
    this.update({ lastError: { message, at: new Date().toISOString() } });
  }

  count(counter: string): void {
    this.update({ counters: { ...this.current.counters, [counter]: (this.current.counters[counter] ?? 0) + 1 } });
  }

  private update(change: Partial<PeripheralHealth>): void {
    const next = { ...this.current, ...change };
    if (sameHealth(this.current, next)) return;
    this.current = { ...next, updatedAt: new Date().toISOString() };
    this.emit('change', this.snapshot());
  }
}
