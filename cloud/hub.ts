import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../shared/logger.ts';
import type { HubConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { Ledger, businessErrorOf, toSnapshot } from './ledger/index.ts';
import { buildHttpApp } from './http/app.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/embedded-broker.ts';
import { DeviceGateway, type GatewayLedger } from './mqtt/device-gateway.ts';

export interface RunningHub {
  db: Database;
  ledger: Ledger;
  gateway: DeviceGateway;
  httpUrl: string;
  mqttUrl: string;
  stop(): Promise<void>;
}

/** The ledger as the device gateway needs it: device transactions act as the device that recorded them. */
function gatewayLedgerOf(ledger: Ledger): GatewayLedger {
  return {
    async topUpCash(input) {
      const posted = await ledger.topUpCash({ ...input, actor: { type: 'device', id: input.deviceId } });
      return { replay: posted.replay, member: toSnapshot(posted.member) };
    },
    findMemberByCard: (cardUid) => ledger.findMemberByCard(cardUid),
    findMemberByCardNumber: (cardNumber) => ledger.findMemberByCardNumber(cardNumber),
    businessErrorOf,
  };
}

/**
 * Starts the hub: database (PGlite or PostgreSQL, migrated), MQTT (embedded Aedes unless an external
 * broker is configured), the device gateway and the REST API. Stops in the reverse order.
 */
export async function startHub(config: HubConfig, logger: Logger = createLogger('hub')): Promise<RunningHub> {
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  const ledger = new Ledger(db);
  let broker: EmbeddedBroker | undefined;
  if (!config.mqttUrl) broker = await startEmbeddedBroker({ ...config.embeddedMqtt, logger });
  const mqttUrl = config.mqttUrl ?? broker!.url;
  const gateway = new DeviceGateway({
    url: mqttUrl,
    ledger: gatewayLedgerOf(ledger),
    logger: logger.child({ component: 'device-gateway' }),
    username: config.mqttUsername,
    password: config.mqttPassword,
  });
  await gateway.start();
  const app = await buildHttpApp({ db, logger });
  await app.listen({ host: config.http.host, port: config.http.port });
  const { port } = app.server.address() as AddressInfo;
  const httpUrl = `http://${config.http.host}:${port}`;
  logger.info({ httpUrl, mqttUrl, database: db.backend }, 'hub started');
  return {
    db,
    ledger,
    gateway,
    httpUrl,
    mqttUrl,
    async stop() {
      await app.close();
      await gateway.stop();
      await broker?.close();
      await db.close();
    },
  };
}
