import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { startKiosk, type RunningKiosk } from '../../device/kiosk-app.ts';
import { EmulatedCardReader } from '../../device/nfc/emulated-card-reader.ts';
import { ReceiptPrinter } from '../../device/printer/receipt-printer.ts';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { CctalkValidatorEmulator } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';
import { messages } from '../../device/kiosk/messages.ts';
import { TestHub } from '../helpers/hub.ts';
import { waitForView } from '../helpers/kiosk-view.ts';
import { nextEvent, withDeadline } from '../helpers/events.ts';
import { DEFAULT_DEVICE_CONFIG } from '../../cloud/sync/index.ts';

/**
 * A kiosk whose bill validator is missing at boot (unplugged, powered off) still serves members their
 * balances, and starts taking cash by itself once the validator appears on its configured port.
 */
describe('kiosk start-up with the bill validator missing', () => {
  let hub: TestHub;
  let printer: TcpPrinterEmulator;
  let cable: PtyPair | undefined;
  let validator: CctalkValidatorEmulator | undefined;
  let kiosk: RunningKiosk;
  let dir: string;
  const reader = new EmulatedCardReader();

  beforeAll(async () => {
    hub = await TestHub.create();
    await hub.start();
    await hub.member('王五', '04C0FFEE', 1000);
    printer = await startPrinterEmulator();
    dir = await mkdtemp(join(tmpdir(), 'mk-kiosk-app-'));
    const printerEndpoint = { kind: 'tcp' as const, host: '127.0.0.1', port: printer.port };
    kiosk = await startKiosk(
      {
        deviceId: 'kiosk-boot',
        storeName: 'Boot',
        mqttUrl: hub.running.mqttUrl,
        dataDir: join(dir, 'data'),
        ui: { host: '127.0.0.1', port: 0 },
        printer: printerEndpoint,
        nfc: 'emulated',
        billValidator: { kind: 'cctalk', path: join(dir, 'ttyUSB-validator') },
      },
      { reader, printer: new ReceiptPrinter(printerEndpoint) },
      createLogger('test-kiosk'),
    );
  });

  afterAll(async () => {
    await kiosk?.stop();
    await validator?.close();
    await cable?.stop();
    await printer?.close();
    await hub?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows balances without cash, then takes cash once the validator is plugged in', async () => {
    await waitForView(kiosk.url, (v) => v.hubConnected);
    reader.tap('04C0FFEE');
    const view = await waitForView(kiosk.url, (v) => v.screen.name === 'member');
    expect(view.screen).toMatchObject({ balances: { principalFen: 1000 }, message: messages.noCashHere });
    expect(kiosk.health.snapshot().peripherals.find((p) => p.kind === 'bill-validator')).toMatchObject({ present: false });

    // "Plugging it in": the configured path now leads to a validator.
    cable = await openPtyPair();
    validator = await CctalkValidatorEmulator.open(cable.devicePath);
    await symlink(cable.hostPath, join(dir, 'ttyUSB-validator'));
    const validatorReady = new Promise<void>((resolve) => {
      const check = () => {
        if (!kiosk.health.snapshot().peripherals.some((p) => p.kind === 'bill-validator' && p.ready)) return;
        kiosk.health.off('change', check);
        resolve();
      };
      kiosk.health.on('change', check);
      check();
    });
    await withDeadline(validatorReady, 30_000, 'the kiosk to find the plugged-in validator and report it ready');

    reader.tap('04C0FFEE');
    await waitForView(kiosk.url, (v) => v.screen.name === 'member' && v.screen.message.en === messages.insertCash.en);
    const credited = waitForView(kiosk.url, (v) => v.lastTopUp?.amountFen === 2000 && v.lastTopUp.state === 'synced');
    expect(validator.insertBill(2000, { escrow: true })).toBe('escrow');
    await credited;
    expect((await hub.running.memberByCard('04C0FFEE'))?.balances.principalFen).toBe(3000);
  });

  it('answers the hub\'s commands: refresh its member cache, run a self-test, report its configuration', async () => {
    const { fleet } = hub.running;
    expect(await fleet.sendCommand('kiosk-boot', { name: 'refresh-cache', ttlSeconds: 10 })).toMatchObject({
      status: 'ok',
      data: { refreshed: 1, unknown: 0 },
    });
    const selfTest = await fleet.sendCommand('kiosk-boot', { name: 'run-self-test', ttlSeconds: 10 });
    expect(selfTest).toMatchObject({ status: 'ok', data: { overall: expect.any(String), peripherals: expect.any(Array) } });
    // Nobody configured this kiosk: the hub gave it the default configuration (which carries the program rules)
    // when it came online. Wait for the kiosk's report of it, then ask.
    const { config } = hub.running.sync;
    const applied = nextEvent<{ deviceId: string }>(config, 'reported', (e) => e.deviceId === 'kiosk-boot');
    if ((await config.get('kiosk-boot')).reported?.appliedVersion !== 1) await applied;
    expect(await fleet.sendCommand('kiosk-boot', { name: 'update-config', ttlSeconds: 10 })).toMatchObject({
      status: 'ok',
      data: { applied: { version: 1, config: DEFAULT_DEVICE_CONFIG } },
    });
    // This kiosk was started without a way to restart itself, so it says so instead of pretending.
    expect(await fleet.sendCommand('kiosk-boot', { name: 'restart-app', ttlSeconds: 10 })).toMatchObject({
      status: 'error',
      error: { code: 'UNKNOWN_COMMAND' },
    });
  });
});
