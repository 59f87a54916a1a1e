import { EventEmitter } from 'node:events';
import type { PeripheralHealth, PeripheralKind } from './peripheral-health.ts';

export type OverallHealth = 'ok' | 'degraded' | 'fault';

/** The whole kiosk at one moment: for the technician page, telemetry and the kiosk's own decisions. */
export interface KioskHealth {
  overall: OverallHealth;
  peripherals: PeripheralHealth[];
  /** One line a store clerk or technician can read, e.g. "degraded: printer 127.0.0.1:9100 paper-end". */
  summary: string;
  at: string;
}

/** Anything that reports its PeripheralHealth as it changes — e.g. ReceiptPrinter ('health' events). */
export interface HealthSource {
  health(): PeripheralHealth;
  on(event: 'health', listener: (health: PeripheralHealth) => void): unknown;
  off(event: 'health', listener: (health: PeripheralHealth) => void): unknown;
}

export interface KioskHealthOptions {
  /** Without these the kiosk cannot serve members at all: their fault is the kiosk's fault. Others degrade it. */
  essential?: PeripheralKind[];
}

/** Equal apart from when they were written: a repeated report is not a change. */
export function sameHealth(a: PeripheralHealth, b: PeripheralHealth): boolean {
  return JSON.stringify({ ...a, updatedAt: '' }) === JSON.stringify({ ...b, updatedAt: '' });
}

function problem(health: PeripheralHealth): string | null {
  const label = `${health.kind} ${health.name}`;
  if (health.fault) return `${label} ${health.fault.code} (${health.fault.message})`;
  if (!health.present) return `${label} not found`;
  if (!health.ready) return `${label} not ready`;
  if (health.paper === 'near-end') return `${label} paper near end`;
  return null;
}

/**
 * Collects every peripheral's health, keyed by kind and name, and emits the kiosk-wide snapshot whenever
 * one of them really changes.
 */
export class KioskHealthRegistry extends EventEmitter<{ change: [KioskHealth] }> {
  private readonly peripherals = new Map<string | symbol, PeripheralHealth>();
  private readonly essential: Set<PeripheralKind>;

  constructor(options: KioskHealthOptions = {}) {
    super();
    this.essential = new Set(options.essential ?? ['nfc-reader']);
  }

  /** A one-off report from something not tracked as a source, keyed by its kind and name. */
  report(health: PeripheralHealth): void {
    this.put(`${health.kind}\u0000${health.name}`, health);
  }

  /**
   * Follows a source from now on, starting with its current health; returns the way to stop. A source is
   * one entry whatever it calls itself over time (a PC/SC reader is named once its first reader appears).
   */
  track(source: HealthSource): () => void {
    const key = Symbol('health source');
    const listener = (health: PeripheralHealth) => this.put(key, health);
    source.on('health', listener);
    this.put(key, source.health());
    return () => {
      source.off('health', listener);
      this.peripherals.delete(key);
    };
  }

  private put(key: string | symbol, health: PeripheralHealth): void {
    const previous = this.peripherals.get(key);
    if (previous && sameHealth(previous, health)) return;
    this.peripherals.set(key, structuredClone(health));
    this.emit('change', this.snapshot());
  }

  snapshot(): KioskHealth {
    const peripherals = [...this.peripherals.values()].map((health) => structuredClone(health));
    const problems = peripherals.flatMap((health) => {
      const text = problem(health);
      return text === null ? [] : [{ text, down: !health.present || !health.ready, essential: this.essential.has(health.kind) }];
    });
    const overall: OverallHealth = problems.some((p) => p.down && p.essential) ? 'fault' : problems.length > 0 ? 'degraded' : 'ok';
    const summary =
      overall === 'ok'
        ? `ok: ${peripherals.length} peripheral${peripherals.length === 1 ? '' : 's'} ready`
        : `${overall}: ${problems.map((p) => p.text).join('; ')}`;
    return { overall, peripherals, summary, at: new Date().toISOString() };
  }
}
