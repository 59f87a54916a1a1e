/**
 * The hub: builds the shared services once (database, ledger, program rules, clock, logger, outbox, events), then
 * walks the list of modules (kernel/module.ts, docs/modules.md): registers their error codes, device operations,
 * refund reversers, follow-ups, jobs and routes, starts them in order and stops them in reverse.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { MemberSnapshot } from '../shared/contract/payloads.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { HubConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { campaignsModule } from './campaigns/index.ts';
import { catalogModule, type VoucherSigningKey } from './catalog/index.ts';
import { cardsModule, cardsPort, memberByCard } from './cards/index.ts';
import { checkoutModule } from './checkout/index.ts';
import { couponsModule } from './coupons/index.ts';
import { devicesModule, verifyDeviceCredentials } from './devices/index.ts';
import { fleetModule, type Fleet, type FleetTuning } from './fleet/index.ts';
import type { AccessDirectory } from './kernel/access.ts';
import { assertUniqueCodes } from './kernel/errors.ts';
import { buildHttpApp } from './kernel/http-app.ts';
import { DEFAULT_JOBS_INTERVAL_MS } from './kernel/interval.ts';
import { hubJobLock } from './kernel/job-lock.ts';
import type { Clock, DeviceOperations, DeviceOperationsRegistry, HubEvents, HubModule, HubServices } from './kernel/module.ts';
import { Outbox } from './kernel/outbox.ts';
import { startScheduler, type ScheduledJob, type Scheduler } from './kernel/scheduler.ts';
import { Ledger, ledgerModule, profileOf } from './ledger/index.ts';
import { externalBrokerLink, type BrokerLink } from './mqtt/broker-session.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/embedded-broker.ts';
import { orgModule, regionOfStore, signedInOperator } from './org/index.ts';
import { programModule, RulesStore, tiersPort, type KioskNotices } from './program/index.ts';
import { syncModule, type DeviceSync } from './sync/index.ts';
import type { DeviceGateway } from './sync/index.ts';

export type ModuleFactory = (hub: HubServices) => HubModule | Promise<HubModule>;

export interface AssembleOptions {
  config: HubConfig;
  db: Database;
  logger: Logger;
  /** The broker the device link uses; without it the hub runs REST only (tools, tests). */
  mqtt?: BrokerLink;
  /** Tests: a route answering an error code it does not declare answers 500 instead (kernel/http-app.ts). */
  strictErrorCodes?: boolean;
  /** Tests: the voucher signing key, instead of the hub's lasting one. */
  voucherKey?: VoucherSigningKey;
  /** Tests: a program rules store standing in for the one on `db`. */
  rules?: RulesStore;
  /** Tests: the fleet's alert thresholds, placements and clock. */
  fleet?: FleetTuning;
  /** Tests: the hub's clock. */
  clock?: Clock;
}

/** A hub with every module created and its HTTP app built; nothing started, nothing listening. */
export interface AssembledHub {
  readonly services: HubServices;
  readonly modules: readonly HubModule[];
  readonly app: FastifyInstance;
  /** Every module's periodic jobs, in module order. */
  readonly jobs: readonly ScheduledJob[];
  readonly sync: ReturnType<typeof syncModule>;
  readonly fleet: ReturnType<typeof fleetModule>;
  /** Starts the modules in order, the outbox consumer and the job scheduler. */
  start(): Promise<void>;
  /** Closes the HTTP app, stops the scheduler and the outbox, then the modules in reverse order. */
  stop(): Promise<void>;
}

/** Device operations by body kind and request op; a kind or op handled by two modules is a wiring mistake. */
function deviceOperationsOf(modules: readonly HubModule[]): DeviceOperationsRegistry & { add(module: HubModule): void } {
  const transactions = new Map<string, NonNullable<DeviceOperations['transactions']>[string]>();
  const requests = new Map<string, NonNullable<DeviceOperations['requests']>[string]>();
  const addAll = <T>(into: Map<string, T>, from: Readonly<Record<string, T>> | undefined, what: string) => {
    for (const [key, handler] of Object.entries(from ?? {})) {
      if (into.has(key)) throw new Error(`device ${what} ${key} is handled by two modules`);
      into.set(key, handler);
    }
  };
  const registry = {
    transaction: (kind: string) => transactions.get(kind),
    request: (op: string) => requests.get(op),
    add(module: HubModule) {
      addAll(transactions, module.deviceOperations?.transactions, 'transaction kind');
      addAll(requests, module.deviceOperations?.requests, 'request op');
    },
  };
  for (const module of modules) registry.add(module);
  return registry;
}

/** The ledger, asking the cards module about cards and the program about tiers (cloud/ledger/ports.ts). */
export function createLedger(db: Database, rules: RulesStore): Ledger {
  return new Ledger(db, { cards: cardsPort, tiers: tiersPort(rules) });
}

/** What the access hooks ask the org and ledger modules. */
function accessDirectory(db: Database): AccessDirectory {
  return {
    operatorByToken: (token) => signedInOperator(db, token),
    regionOfStore: (storeId) => regionOfStore(db, storeId),
    async homeOfMember(memberId) {
      const storeId = (await profileOf(db, memberId)).homeStoreId;
      return { storeId, regionId: storeId === null ? null : await regionOfStore(db, storeId) };
    },
  };
}

export async function assembleHub({ config, db, logger, mqtt, strictErrorCodes, voucherKey, rules, fleet: fleetTuning, clock = () => new Date() }: AssembleOptions): Promise<AssembledHub> {
  const operations = deviceOperationsOf([]);
  const programRules = rules ?? new RulesStore(db);
  const services: HubServices = {
    config,
    db,
    ledger: createLedger(db, programRules),
    rules: programRules,
    clock,
    logger,
    outbox: new Outbox({ db, logger: logger.child({ component: 'outbox' }) }),
    events: new EventEmitter() as HubEvents,
    deviceOperations: operations,
    ...(mqtt ? { mqtt } : {}),
  };
  const sync = syncModule(services);
  const fleet = fleetModule(services, fleetTuning);
  // The order is the start order, and the order the scheduler runs their jobs in: the expiries first, then the
  // tier review, then the annual card fees.
  const factories: ModuleFactory[] = [
    orgModule,
    ledgerModule,
    couponsModule,
    (hub) => catalogModule(hub, voucherKey ? { voucherKey } : {}),
    programModule,
    cardsModule,
    checkoutModule,
    campaignsModule,
    devicesModule,
    () => sync,
    () => fleet,
  ];
  const modules: HubModule[] = [];
  for (const create of factories) modules.push(await create(services));
  assertUniqueCodes(modules.flatMap((module) => (module.errors ? [module.errors] : [])));
  for (const module of modules) {
    operations.add(module);
    if (module.reverser) services.ledger.reverseTransactionsOf(module.name, module.reverser);
    for (const [topic, handler] of Object.entries(module.followUps ?? {})) services.outbox.handle(topic, handler);
  }
  const jobs = modules.flatMap((module) => module.jobs ?? []);
  const app = await buildHttpApp({ db, logger, directory: accessDirectory(db), modules, ...(strictErrorCodes ? { strictErrorCodes } : {}) });
  let scheduler: Scheduler | undefined;
  const started: HubModule[] = [];
  return {
    services,
    modules,
    app,
    jobs,
    sync,
    fleet,
    async start() {
      for (const module of modules) {
        await module.start?.();
        started.push(module);
      }
      services.outbox.start();
      scheduler = startScheduler({
        jobs,
        logger: logger.child({ component: 'jobs' }),
        intervalMs: config.jobsIntervalMs ?? DEFAULT_JOBS_INTERVAL_MS,
        lock: hubJobLock(db),
      });
    },
    async stop() {
      await app.close();
      await scheduler?.stop();
      await services.outbox.stop();
      for (const module of started.splice(0).reverse()) await module.stop?.();
    },
  };
}

export interface RunningHub {
  db: Database;
  ledger: Ledger;
  /** The published program rules. */
  rules: RulesStore;
  /** The device gateway (the sync module's). */
  gateway: DeviceGateway;
  sync: DeviceSync;
  fleet: Fleet;
  /** Program notices on the snapshots kiosks get; `notices.enabled` switches them on at run time too. */
  notices: KioskNotices;
  httpUrl: string;
  mqttUrl: string;
  /** The member holding a card as a kiosk sees them (tools and tests); undefined for an unknown card. */
  memberByCard(cardUid: string): Promise<MemberSnapshot | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts the hub: database (PGlite or PostgreSQL, migrated), MQTT (embedded Aedes unless an external broker is
 * configured; with hub credentials configured, every device must log in with its own), every module, the REST
 * API and the dashboard. Stops in reverse.
 */
export async function startHub(config: HubConfig, logger: Logger = createLogger('hub')): Promise<RunningHub> {
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  const { mqttUsername: username, mqttPassword: password } = config;
  let broker: EmbeddedBroker | undefined;
  if (!config.mqttUrl) {
    const auth = username && password
      ? { hubUsername: username, hubPassword: password, verifyDevice: (id: string, secret: string) => verifyDeviceCredentials(db, id, secret) }
      : undefined;
    broker = await startEmbeddedBroker({ ...config.embeddedMqtt, logger, ...(auth ? { auth } : {}) });
  }
  const mqtt = broker
    ? broker.link
    : externalBrokerLink({
        url: config.mqttUrl!,
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
        ...(config.mqttShareGroup ? { shareGroup: config.mqttShareGroup } : {}),
      });
  const mqttUrl = mqtt.url;
  const hub = await assembleHub({ config, db, logger, mqtt });
  await hub.start();
  await hub.app.listen({ host: config.http.host, port: config.http.port });
  const { port } = hub.app.server.address() as AddressInfo;
  const httpUrl = `http://${config.http.host}:${port}`;
  logger.info({ httpUrl, mqttUrl, database: db.backend }, 'hub started');
  return {
    db,
    ledger: hub.services.ledger,
    rules: hub.services.rules,
    gateway: hub.sync.gateway!,
    sync: hub.sync.sync,
    fleet: hub.fleet.fleet!,
    notices: hub.sync.notices,
    httpUrl,
    mqttUrl,
    memberByCard: (cardUid) => memberByCard(db, hub.services.ledger, cardUid),
    async stop() {
      await hub.stop();
      await broker?.close();
      await db.close();
    },
  };
}
