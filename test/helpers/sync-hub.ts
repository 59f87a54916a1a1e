import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import type { AssembledHub } from '../../cloud/hub.ts';
import type { Ledger } from '../../cloud/ledger/index.ts';
import { createOperator } from '../../cloud/org/operators.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../cloud/mqtt/embedded-broker.ts';
import type { DeviceGateway } from '../../cloud/sync/device-gateway.ts';
import type { DeviceSync } from '../../cloud/sync/index.ts';
import { KioskStore } from '../../device/store/kiosk-store.ts';
import { HubLink } from '../../device/sync/hub-link.ts';
import { createLogger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { assembleTestHub } from './hub-app.ts';
import { bearer } from './org.ts';
import { bindCard, memberByCard } from '../../cloud/cards/index.ts';

/**
 * Every hub module on an in-memory PGlite and an embedded broker on a free port, started, with no listening HTTP
 * server: the gateway with sync reports sequence conflicts to the test, and the REST app answers `http.inject`
 * (with `headers: hub.adminHeaders`).
 */
export class SyncHub {
  private constructor(
    private readonly hub: AssembledHub,
    private readonly broker: EmbeddedBroker,
    /** Device ids, once per sequence conflict the gateway reported. */
    readonly conflictsReported: string[],
    /** Signs a REST request in as an HQ admin, who reaches every member and device. */
    readonly adminHeaders: { authorization: string },
  ) {}

  static async start(): Promise<SyncHub> {
    const logger = createLogger('test-sync-hub');
    const db = await openDatabase({});
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
    const hub = await assembleTestHub(db, { logger, config: { kioskNotices: false }, mqtt: broker.link });
    const conflictsReported: string[] = [];
    hub.services.events.on('device.sequenceConflict', (deviceId) => conflictsReported.push(deviceId));
    await hub.start();
    await hub.app.ready();
    const admin = { name: 'HQ admin', role: 'admin', scope: { level: 'hq', id: 'hq' } } as const;
    const { token } = await createOperator(db, admin, { type: 'system', id: 'test' }, 'sync hub for tests');
    return new SyncHub(hub, broker, conflictsReported, bearer(token));
  }

  get db(): Database {
    return this.hub.services.db;
  }

  get ledger(): Ledger {
    return this.hub.services.ledger;
  }

  get sync(): DeviceSync {
    return this.hub.sync.sync;
  }

  get gateway(): DeviceGateway {
    return this.hub.sync.gateway!;
  }

  get http(): FastifyInstance {
    return this.hub.app;
  }

  /** The member holding a card as a kiosk sees them. */
  memberByCard(cardUid: string): Promise<MemberSnapshot | undefined> {
    return memberByCard(this.db, this.ledger, cardUid);
  }

  get mqttUrl(): string {
    return this.broker.url;
  }

  /** A member with a bound card. */
  async member(name: string, cardUid: string): Promise<MemberSnapshot> {
    const operator = { type: 'operator' as const, id: 'test-operator' };
    const created = await this.ledger.createMember({ name, actor: operator });
    return (await bindCard(this.db, this.ledger, { memberId: created.memberId, cardUid, actor: operator })).member;
  }

  async stop(): Promise<void> {
    await this.hub.stop();
    await this.broker.close();
    await this.db.close();
  }
}

/** A kiosk's durable store and hub link, connected to `hub`, in a temp dir removed by stop(). */
export interface LinkedKiosk {
  deviceId: string;
  /** The store's file, to reopen it as a restarted kiosk would. */
  file: string;
  store: KioskStore;
  link: HubLink;
  stop(): Promise<void>;
}

export async function linkKiosk(hub: Pick<SyncHub, 'mqttUrl'>, deviceId: string, beforeStart?: (kiosk: LinkedKiosk) => void): Promise<LinkedKiosk> {
  const dir = await mkdtemp(join(tmpdir(), 'mk-sync-kiosk-'));
  const file = join(dir, 'kiosk.json');
  const store = await KioskStore.open(file);
  const link = new HubLink({ url: hub.mqttUrl, deviceId, softwareVersion: 'test', store, logger: createLogger('test-kiosk').child({ deviceId }) });
  const kiosk: LinkedKiosk = {
    deviceId,
    file,
    store,
    link,
    async stop() {
      await link.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  beforeStart?.(kiosk);
  const connected = once(link, 'connected');
  link.start();
  await connected;
  return kiosk;
}
