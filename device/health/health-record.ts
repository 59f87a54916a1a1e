import { EventEmitter } from 'node:events';
import { sameHealth } from './kiosk-health.ts';
import type { PeripheralFault, PeripheralHealth } from './peripheral-health.ts';

/**
 * One peripheral's PeripheralHealth as its adapter keeps it: every real change (not a repeated report)
 * gets a fresh `updatedAt` and is emitted as 'change' with a copy — what the kiosk's registry follows.
 */
export class HealthRecord extends EventEmitter<{ change: [PeripheralHealth] }> {
  protected current: PeripheralHealth;

  constructor(initial: PeripheralHealth) {
    super();
    this.current = initial;
  }

  snapshot(): PeripheralHealth {
    return structuredClone(this.current);
  }

  count(counter: string): void {
    this.update({ counters: { ...this.current.counters, [counter]: (this.current.counters[counter] ?? 0) + 1 } });
  }

  /** A fault that persists keeps its original time, so "since" says how long the kiosk has had it. */
  protected faultSince(code: string, message: string): PeripheralFault {
    return this.current.fault?.code === code ? this.current.fault : { code, message, since: new Date().toISOString() };
  }

  protected update(change: Partial<PeripheralHealth>): void {
    const next = { ...this.current, ...change };
    if (sameHealth(this.current, next)) return;
    this.current = { ...next, updatedAt: new Date().toISOString() };
    this.emit('change', this.snapshot());
  }
}
