import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { KioskConfig } from './config.ts';
import { KioskStore } from './store/kiosk-store.ts';
import { HubLink } from './sync/hub-link.ts';
import { Kiosk } from './kiosk/kiosk.ts';
import { buildKioskServer } from './ui/server.ts';
import type { CardReader } from './nfc/card-reader.ts';
import type { MagstripeReader } from './magstripe/magstripe-reader.ts';
import type { ReceiptPrinter } from './printer/receipt-printer.ts';
import { watchPrinter } from './printer/printer-watch.ts';
import { BillValidator } from './bill-validator/bill-validator.ts';
import { KioskHealthRegistry, type HealthSource } from './health/kiosk-health.ts';
import { Backoff } from './hardware/backoff.ts';
import { startTelemetry } from './sync/telemetry.ts';
import { startCommandHandler } from './sync/commands.ts';
import { ConfigSync } from './sync/config-sync.ts';

export const SOFTWARE_VERSION = '0.1.0';

/** The peripherals built from configuration; the bill validator is built here, from the kiosk's store. */
export interface KioskHardware {
  reader: CardReader;
  printer: ReceiptPrinter;
  magstripe?: MagstripeReader;
}

export interface KioskAppOptions {
  /** What 'restart-app' does; the process owner (device/main.ts) exits for its supervisor to restart it. */
  restart?: () => void;
  /** How long a receipt waits for the hub's ack before it prints "pending sync" (the Kiosk's default without it). */
  receiptAckWaitMs?: number;
}

export interface RunningKiosk {
  kiosk: Kiosk;
  store: KioskStore;
  hub: HubLink;
  health: KioskHealthRegistry;
  billValidator: BillValidator | undefined;
  url: string;
  stop(): Promise<void>;
}

/** The in-process emulated reader keeps no health; every real adapter does. */
function isHealthSource(value: object | undefined): value is HealthSource {
  return value !== undefined && 'health' in value && typeof value.health === 'function';
}

/** Asks the hub again for every cached member, so offline service starts from fresh balances. */
async function refreshMemberCache(store: KioskStore, hub: HubLink): Promise<{ refreshed: number; unknown: number }> {
  let refreshed = 0;
  let unknown = 0;
  for (const cardUid of store.cachedCards()) {
    const result = await hub.lookupCard({ cardUid });
    if (result.found) refreshed += 1;
    else unknown += 1;
  }
  return { refreshed, unknown };
}

/** Answers the command first, then restarts: the hub gets its result before the kiosk goes away. */
function restartSoon(restart: () => void): { restarting: true } {
  setTimeout(restart, 200).unref();
  return { restarting: true };
}

/**
 * Starts the validator and credits what it stacked while the kiosk was down. A validator that is
 * unplugged or powered off at boot must not keep members from their balances: the kiosk starts without
 * cash and keeps trying in the background. Returns the way to stop trying.
 */
async function startBillValidator(validator: BillValidator, kiosk: Kiosk, logger: Logger): Promise<() => void> {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      await validator.start();
      await kiosk.cashAcceptorStarted();
    } catch (error) {
      if (stopped) return;
      const delayMs = backoff.nextDelayMs();
      logger.error({ err: (error as Error).message, retryInMs: delayMs }, 'bill validator not available; the kiosk takes no cash until it is');
      timer = setTimeout(() => void attempt(), delayMs);
    }
  };
  await attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Wires one kiosk together: durable store, hub link, peripherals, health, the member flow and its page. */
export async function startKiosk(
  config: KioskConfig,
  hardware: KioskHardware,
  logger: Logger = createLogger('kiosk').child({ deviceId: config.deviceId }),
  options: KioskAppOptions = {},
): Promise<RunningKiosk> {
  await mkdir(config.dataDir, { recursive: true });
  const store = await KioskStore.open(join(config.dataDir, 'kiosk.json'), { logger: logger.child({ component: 'store' }) });
  const hub = new HubLink({
    url: config.mqttUrl,
    deviceId: config.deviceId,
    softwareVersion: SOFTWARE_VERSION,
    store,
    logger: logger.child({ component: 'hub-link' }),
    username: config.mqttUsername,
    password: config.mqttPassword,
    ...(config.ackTimeoutMs === undefined ? {} : { resend: { ackTimeoutMs: config.ackTimeoutMs } }),
  });
  // Started from the counter of the last bill credited, so bills stacked while the kiosk was down are
  // credited now, once (see CashAcceptance).
  const billValidator =
    config.billValidator.kind === 'cctalk'
      ? new BillValidator({
          path: config.billValidator.path,
          escrow: true,
          logger: logger.child({ component: 'bill-validator' }),
          ...(store.cash.lastBillEventCounter === null ? {} : { lastEventCounter: store.cash.lastBillEventCounter }),
        })
      : undefined;
  // Configuration from the hub, applied durably before, wins over the local defaults.
  const hubConfig = store.config?.config;
  const kiosk = new Kiosk({
    deviceId: config.deviceId,
    storeName: hubConfig?.storeName ?? config.storeName,
    store,
    hub,
    printer: hardware.printer,
    ...(billValidator ? { cashAcceptor: billValidator } : {}),
    ...(hubConfig ? { offlineLimits: hubConfig.offlineLimits } : {}),
    logger: logger.child({ component: 'session' }),
    ...(options.receiptAckWaitMs === undefined ? {} : { receiptAckWaitMs: options.receiptAckWaitMs }),
  });
  const configSync = new ConfigSync({ deviceId: config.deviceId, link: hub, store, logger: logger.child({ component: 'config-sync' }) });
  configSync.on('applied', ({ config: applied }) => kiosk.applyOfflineLimits(applied.offlineLimits));
  configSync.on('program', () => kiosk.programChanged());
  configSync.start();

  const { reader, printer, magstripe } = hardware;
  reader.on('card', (tap) => {
    kiosk.cardTapped(tap).catch((error: Error) => logger.error({ err: error.message }, 'card tap failed'));
  });
  // Reader errors (a phone or a bank card on the reader, pcscd gone) are logged; the member just taps again.
  reader.on('error', (error) => logger.warn({ reader: error.readerName, err: error.message }, 'card reader error'));
  magstripe?.on('swipe', (swipe) => {
    kiosk.cardSwiped(swipe.cardNumber).catch((error: Error) => logger.error({ err: error.message }, 'card swipe failed'));
  });
  magstripe?.on('swipe-error', (error) => kiosk.readerMessage(error.message));

  const health = new KioskHealthRegistry();
  const peripherals: Array<object | undefined> = [reader, printer, magstripe, billValidator];
  const untrack = peripherals.filter(isHealthSource).map((source) => health.track(source));
  const printerWatch = watchPrinter(printer);
  const telemetry = startTelemetry({ hub, health, store, deviceId: config.deviceId, softwareVersion: SOFTWARE_VERSION });
  startCommandHandler({
    hub,
    deviceId: config.deviceId,
    logger: logger.child({ component: 'commands' }),
    handlers: {
      'reprint-last-receipt': async () => {
        if (!(await kiosk.reprintLastReceipt())) throw new Error('there is no failed receipt to reprint, or the printer still cannot print');
        return { printed: true };
      },
      'run-self-test': () => health.snapshot(),
      'refresh-cache': () => refreshMemberCache(store, hub),
      // Desired configuration arrives retained on its own topic; this reports what is applied now.
      'update-config': () => ({ applied: configSync.current }),
      ...(options.restart ? { 'restart-app': () => restartSoon(options.restart!) } : {}),
    },
  });

  const server = await buildKioskServer({ kiosk, health, logger });
  await server.listen({ host: config.ui.host, port: config.ui.port });
  const { port } = server.server.address() as AddressInfo;
  hub.start();
  // Bills first: a member card already on the reader at start-up must find the validator ready.
  const stopRetryingValidator = billValidator ? await startBillValidator(billValidator, kiosk, logger) : () => undefined;
  await reader.start();
  printerWatch.start();
  const url = `http://${config.ui.host}:${port}/`;
  logger.info({ url, pending: store.pending().length }, 'kiosk started');
  return {
    kiosk,
    store,
    hub,
    health,
    billValidator,
    url,
    async stop() {
      stopRetryingValidator();
      await billValidator?.stop();
      await printerWatch.stop();
      await reader.stop();
      untrack.forEach((stop) => stop());
      await server.close();
      telemetry.stop();
      await hub.stop();
    },
  };
}
