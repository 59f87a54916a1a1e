import { EnvReader } from '../shared/config-env.ts';
import { jobsIntervalMsFromEnv } from './kernel/interval.ts';
import { isStrongBootstrapToken, WEAK_BOOTSTRAP_TOKEN } from './org/tokens.ts';

export interface HubConfig {
  http: { host: string; port: number };
  /** PostgreSQL connection string; without it the hub runs on embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** External broker; without it the hub starts its embedded Aedes broker on `embeddedMqtt`. */
  mqttUrl?: string;
  mqttUsername?: string;
  mqttPassword?: string;
  /** Shared-subscription group for running several hubs on one external broker. */
  mqttShareGroup?: string;
  embeddedMqtt: { host: string; port: number };
  /**
   * Bearer token of the bootstrap HQ admin, created (or re-keyed) at every start: the way in to a new hub,
   * from which that admin creates regions, stores and the other operators.
   */
  adminToken?: string;
  /**
   * Ed25519 private key (PKCS#8 PEM) that signs redemption vouchers; every hub of a chain needs the same one.
   * Without it the hub keeps a development key in `dataDir` (see cloud/catalog/signing-key.ts).
   */
  voucherSigningKeyPem?: string;
  /** How often the hub runs its scheduled jobs (points/coupon/voucher expiry, tier review); absent = hourly. */
  jobsIntervalMs?: number;
  /**
   * Program notices (tier progress, tier at risk, points expiring) on the member snapshots kiosks get; absent =
   * on. Kiosk software from before them refuses such snapshots: turn them off while a fleet is being upgraded.
   */
  kioskNotices?: boolean;
}

/** Reads the hub's configuration from the environment (see README, "Configuration"). */
export function hubConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const read = new EnvReader(env);
  const config: HubConfig = {
    http: { host: read.string('HUB_HOST', '127.0.0.1'), port: read.port('HUB_PORT', 8080) },
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: read.string('HUB_DATA_DIR', 'data/hub'),
    mqttUrl: read.url('MQTT_URL', ['mqtt:', 'mqtts:']),
    mqttUsername: read.optional('MQTT_USERNAME'),
    mqttPassword: read.optional('MQTT_PASSWORD'),
    mqttShareGroup: read.optional('MQTT_SHARE_GROUP'),
    embeddedMqtt: { host: read.string('MQTT_HOST', '127.0.0.1'), port: read.port('MQTT_PORT', 1883) },
    adminToken: read.optional('HUB_ADMIN_TOKEN'),
    voucherSigningKeyPem: read.optional('HUB_VOUCHER_SIGNING_KEY'),
    jobsIntervalMs: jobsIntervalMsFromEnv(read),
    kioskNotices: read.optional('HUB_KIOSK_NOTICES') !== 'off',
  };
  // Never echo the value: it is a credential.
  if (config.adminToken !== undefined && !isStrongBootstrapToken(config.adminToken)) read.problems.push(WEAK_BOOTSTRAP_TOKEN.en);
  const notices = read.optional('HUB_KIOSK_NOTICES');
  if (notices !== undefined && notices !== 'on' && notices !== 'off') read.problems.push(`HUB_KIOSK_NOTICES must be on or off, got "${notices}"`);
  // Aedes has no shared subscriptions: a group there would silently receive nothing.
  if (config.mqttShareGroup && !config.mqttUrl) read.problems.push('MQTT_SHARE_GROUP needs an external broker (MQTT_URL)');
  if (config.mqttShareGroup && !/^[A-Za-z0-9_-]{1,64}$/.test(config.mqttShareGroup)) {
    read.problems.push(`MQTT_SHARE_GROUP may contain only letters, digits, '-' and '_', got "${config.mqttShareGroup}"`);
  }
  read.done();
  return config;
}
