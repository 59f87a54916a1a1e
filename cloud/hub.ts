import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { HubConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { Ledger, businessErrorOf, toSnapshot } from './ledger/index.ts';
import { API_PREFIX, buildHttpApp } from './http/app.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/embedded-broker.ts';
import { DeviceGateway, type GatewayLedger } from './mqtt/device-gateway.ts';
import { verifyDeviceCredentials } from './devices/credentials.ts';
import { createDeviceSync, deviceConfigRoutes, type DeviceSync } from './sync/index.ts';
import { startFleet, type Fleet } from './fleet/fleet-service.ts';
import { registerFleetDashboard } from './fleet/dashboard.ts';
import { ensureBootstrapAdmin } from './org/operators.ts';
import { loadVoucherSigningKey } from './catalog/signing-key.ts';
import { startScheduledJobs } from './jobs/hub-jobs.ts';
import { DEFAULT_JOBS_INTERVAL_MS } from './jobs/interval.ts';
import { KioskNotices } from './program/member-notices.ts';
import type { MemberSnapshot } from '../shared/contract/payloads.ts';

export interface RunningHub {
  db: Database;
  ledger: Ledger;
  gateway: DeviceGateway;
  sync: DeviceSync;
  fleet: Fleet;
  /** Program notices on the snapshots kiosks get; `notices.enabled` switches them on at run time too. */
  notices: KioskNotices;
  httpUrl: string;
  mqttUrl: string;
  stop(): Promise<void>;
}

/** The member holding a card as a kiosk gets them in a member update: with their notices, as a lookup does. */
export function kioskSnapshotOf(ledger: Ledger, notices: KioskNotices): (cardUid: string) => Promise<MemberSnapshot | undefined> {
  return async (cardUid) => notices.attach(await ledger.findMemberByCard(cardUid));
}

/**
 * The ledger as the device gateway needs it: device transactions act as the device that recorded them. Card
 * lookups carry the member's program notices (when `notices` is given and enabled); transaction acks do not, so
 * the ack after a commit costs no extra queries (a kiosk keeps the notices it has when a snapshot has none).
 */
export function gatewayLedgerOf(ledger: Ledger, notices?: KioskNotices): GatewayLedger {
  const withNotices = async (found: Promise<MemberSnapshot | undefined>) => (notices ? notices.attach(await found) : found);
  return {
    async topUpCash(input) {
      const posted = await ledger.topUpCash({ ...input, actor: { type: 'device', id: input.deviceId } });
      return { replay: posted.replay, member: toSnapshot(posted.member) };
    },
    findMemberByCard: (cardUid) => withNotices(ledger.findMemberByCard(cardUid)),
    findMemberByCardNumber: (cardNumber) => withNotices(ledger.findMemberByCardNumber(cardNumber)),
    businessErrorOf,
  };
}

/**
 * Starts the hub: database (PGlite or PostgreSQL, migrated), MQTT (embedded Aedes unless an external
 * broker is configured; with hub credentials configured, every device must log in with its own), the
 * fleet registry, the device gateway with sync, the REST API and the fleet dashboard. Stops in reverse.
 */
export async function startHub(config: HubConfig, logger: Logger = createLogger('hub')): Promise<RunningHub> {
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  if (config.adminToken) {
    const admin = await ensureBootstrapAdmin(db, config.adminToken);
    logger.info({ operatorId: admin.operatorId }, 'bootstrap HQ admin ready (HUB_ADMIN_TOKEN)');
  }
  const ledger = new Ledger(db);
  const { mqttUsername: username, mqttPassword: password } = config;
  let broker: EmbeddedBroker | undefined;
  if (!config.mqttUrl) {
    const auth = username && password
      ? { hubUsername: username, hubPassword: password, verifyDevice: (id: string, secret: string) => verifyDeviceCredentials(db, id, secret) }
      : undefined;
    broker = await startEmbeddedBroker({ ...config.embeddedMqtt, logger, ...(auth ? { auth } : {}) });
  }
  const mqttUrl = config.mqttUrl ?? broker!.url;
  const fleet = await startFleet({ mqttUrl, db, logger: logger.child({ component: 'fleet' }), username, password });
  // The rules store the notices follow is created with the sync that sends them.
  const snapshotOf = (cardUid: string) => kioskSnapshotOf(ledger, notices)(cardUid);
  const sync = createDeviceSync({ db, snapshotOf, logger: logger.child({ component: 'device-sync' }) });
  const notices = new KioskNotices({ db, program: sync.program, logger: logger.child({ component: 'member-notices' }), enabled: config.kioskNotices ?? true });
  const gateway = new DeviceGateway({
    url: mqttUrl,
    ledger: gatewayLedgerOf(ledger, notices),
    sync,
    onSequenceConflict: (deviceId) => fleet.recordSyncConflict(deviceId),
    logger: logger.child({ component: 'device-gateway' }),
    username,
    password,
    ...(config.mqttShareGroup ? { shareGroup: config.mqttShareGroup } : {}),
  });
  await gateway.start();
  const voucherKey = await loadVoucherSigningKey({ pem: config.voucherSigningKeyPem, dataDir: config.dataDir, logger });
  // One rules store for REST and the gateway, so a publish over REST reaches the kiosks at once.
  sync.program.onPublished(() => {
    sync.config.checkProgram().catch((error: Error) => logger.warn({ err: error.message }, 'could not send the new program rules to kiosks'));
  });
  const app = await buildHttpApp({ db, logger, rules: sync.program, voucherKey });
  await app.register(deviceConfigRoutes(sync.config), { prefix: API_PREFIX });
  await registerFleetDashboard(app, fleet);
  await app.listen({ host: config.http.host, port: config.http.port });
  const { port } = app.server.address() as AddressInfo;
  const httpUrl = `http://${config.http.host}:${port}`;
  const jobs = startScheduledJobs({
    db,
    rules: sync.program,
    logger: logger.child({ component: 'jobs' }),
    intervalMs: config.jobsIntervalMs ?? DEFAULT_JOBS_INTERVAL_MS,
  });
  logger.info({ httpUrl, mqttUrl, database: db.backend }, 'hub started');
  return {
    db,
    ledger,
    gateway,
    sync,
    fleet,
    notices,
    httpUrl,
    mqttUrl,
    async stop() {
      await app.close();
      await fleet.stop();
      await gateway.stop();
      await broker?.close();
      await jobs.stop();
      await db.close();
    },
  };
}
