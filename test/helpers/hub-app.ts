import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { generateVoucherSigningKey, type VoucherSigningKey } from '../../cloud/catalog/index.ts';
import type { HubConfig } from '../../cloud/config.ts';
import type { Database } from '../../cloud/db/database.ts';
import { assembleHub, type AssembledHub, type AssembleOptions } from '../../cloud/hub.ts';
import type { Logger } from '../../shared/logger.ts';

/** A hub configuration for tests that never listen or write a data dir (REST on app.inject, a PGlite in memory). */
export function testHubConfig(overrides: Partial<HubConfig> = {}): HubConfig {
  return { http: { host: '127.0.0.1', port: 0 }, dataDir: '/nonexistent/member-kiosk-test', embeddedMqtt: { host: '127.0.0.1', port: 0 }, ...overrides };
}

export interface TestHubOptions extends Partial<Omit<AssembleOptions, 'db' | 'logger' | 'config'>> {
  logger?: Logger;
  config?: Partial<HubConfig>;
  voucherKey?: VoucherSigningKey;
}

/**
 * Every hub module on `db`, with the REST app built and nothing started or listening. Refusing with an error
 * code a route does not declare answers 500 here, so a test of that route catches the omission.
 */
export function assembleTestHub(db: Database, { logger = pino({ level: 'silent' }), config, voucherKey, ...options }: TestHubOptions = {}): Promise<AssembledHub> {
  return assembleHub({
    config: testHubConfig(config),
    db,
    logger,
    strictErrorCodes: true,
    voucherKey: voucherKey ?? generateVoucherSigningKey(),
    ...options,
  });
}

/** The hub's REST app on `db` (see assembleTestHub); close it when done. */
export async function restAppOn(db: Database, options: TestHubOptions = {}): Promise<FastifyInstance> {
  return (await assembleTestHub(db, options)).app;
}
