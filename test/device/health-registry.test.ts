import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { KioskHealthRegistry, type KioskHealth } from '../../device/health/kiosk-health.ts';
import { initialHealth, type PeripheralHealth } from '../../device/health/peripheral-health.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';

const ready = (kind: PeripheralHealth['kind'], name: string, extra: Partial<PeripheralHealth> = {}): PeripheralHealth => ({
  ...initialHealth(kind, name),
  present: true,
  ready: true,
  ...extra,
});

describe('KioskHealthRegistry', () => {
  it('is ok when every peripheral is ready, degraded by a non-essential fault, at fault when an essential one is down', () => {
    const registry = new KioskHealthRegistry({ essential: ['nfc-reader'] });
    const changes: KioskHealth[] = [];
    registry.on('change', (health) => changes.push(health));
    registry.report(ready('nfc-reader', 'ACS ACR122U'));
    registry.report(ready('printer', '10.0.0.5:9100', { paper: 'ok' }));
    expect(registry.snapshot()).toMatchObject({ overall: 'ok', summary: 'ok: 2 peripherals ready' });

    registry.report(ready('printer', '10.0.0.5:9100', {
      ready: false, paper: 'out', fault: { code: 'paper-end', message: 'receipt printer out of paper', since: '2025-01-01T00:00:00Z' },
    }));
    expect(registry.snapshot()).toMatchObject({
      overall: 'degraded',
      summary: 'degraded: printer 10.0.0.5:9100 paper-end (receipt printer out of paper)',
    });

    registry.report({ ...initialHealth('nfc-reader', 'ACS ACR122U') });
    const snapshot = registry.snapshot();
    expect(snapshot.overall).toBe('fault');
    expect(snapshot.summary).toBe('fault: nfc-reader ACS ACR122U not found; printer 10.0.0.5:9100 paper-end (receipt printer out of paper)');
    expect(snapshot.peripherals.map((p) => p.kind)).toEqual(['nfc-reader', 'printer']);
    expect(changes.map((c) => c.overall)).toEqual(['ok', 'ok', 'degraded', 'fault']);
  });

  it('calls paper near its end degraded, and ignores a report that changes only the time', () => {
    const registry = new KioskHealthRegistry();
    const changes: KioskHealth[] = [];
    registry.on('change', (health) => changes.push(health));
    const printer = ready('printer', 'p', { paper: 'near-end' });
    registry.report(printer);
    registry.report({ ...printer, updatedAt: new Date(Date.now() + 1000).toISOString() });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ overall: 'degraded', summary: 'degraded: printer p paper near end' });
  });
});

describe('printer health through the registry', () => {
  let emulator: TcpPrinterEmulator;
  beforeEach(async () => {
    emulator = await startPrinterEmulator();
  });
  afterEach(() => emulator.close());

  it('follows the printer: unknown, ready, cover open, ready again', async () => {
    const printer = new ReceiptPrinter({ host: '127.0.0.1', port: emulator.port }, { timeoutMs: 1_000 });
    const registry = new KioskHealthRegistry();
    const summaries: string[] = [];
    registry.on('change', (health) => summaries.push(health.summary));
    const stop = registry.track(printer);
    await printer.canPrint();
    emulator.setStatus({ coverOpen: true });
    await printer.canPrint();
    const since = printer.health().fault?.since;
    await printer.canPrint(); // the same fault again: no change, and it keeps its start time
    expect(printer.health().fault?.since).toBe(since);
    emulator.setStatus({ coverOpen: false });
    await printer.canPrint();
    stop();
    emulator.setStatus({ paperEnd: true });
    await printer.canPrint();
    const name = `127.0.0.1:${emulator.port}`;
    expect(summaries).toEqual([
      `degraded: printer ${name} not found`,
      'ok: 1 peripheral ready',
      `degraded: printer ${name} cover-open (receipt printer cover open)`,
      'ok: 1 peripheral ready',
    ]);
  });
});
