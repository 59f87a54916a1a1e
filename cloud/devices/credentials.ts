import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/database.ts';
import { isDeviceId } from '../../shared/ids.ts';

/** What a device presents to the broker: its id as the MQTT username and a random secret as the password. */
export interface DeviceCredentials {
  username: string;
  password: string;
}

export type CredentialCheck = { ok: true } | { ok: false; reason: 'unknown device' | 'revoked' | 'wrong password' };

/*
 * Hashes are PBKDF2-HMAC-SHA512 in Mosquitto's own `$7$<iterations>$<salt>$<key>` format (base64, 12-byte salt,
 * 64-byte key), so the same rows can check a device on the embedded broker and be rendered into an external
 * Mosquitto's password_file (mosquittoPasswordFile), which reads the iteration count from each row.
 *
 * New hashes use 101 iterations, mosquitto_passwd's own default. Key stretching makes each guess at a *guessable*
 * password expensive; a device secret is 32 random bytes (256 bits), which no number of guesses finds, stretched or
 * not, even from a leaked table. So iterations buy a device nothing, while every CONNECT pays them: at 100,000 (the
 * count used until issue 10, tens of milliseconds of CPU each) a fleet of 10,000 kiosks took minutes to log in after
 * a hub restart. Hashes stored with another count still verify with their own count, and are rewritten at the
 * current count on their first successful login, so an existing fleet gets fast logins from its second connect on.
 */
const ITERATIONS = 101;
const SALT_BYTES = 12;
const KEY_BYTES = 64;

function derive(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, iterations, KEY_BYTES, 'sha512', (error, key) => (error ? reject(error) : resolve(key))),
  );
}

async function hashSecret(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, ITERATIONS);
  return `$7$${ITERATIONS}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches a `$7$` hash, derived with the hash's own iteration count. */
async function secretMatches(password: string, stored: string): Promise<boolean> {
  const [, scheme, iterations, salt, key] = stored.split('$');
  const count = Number(iterations);
  if (scheme !== '7' || !salt || !key || !Number.isSafeInteger(count) || count < 1) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), count);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const hashedWithCurrentCount = (stored: string) => stored.startsWith(`$7$${ITERATIONS}$`);

// Checked against when the device is unknown, so an unknown id takes as long to refuse as a wrong password.
const UNKNOWN_DEVICE_HASH = hashSecret(randomBytes(32).toString('base64url'));

/**
 * Issues a new random secret for a device and stores only its hash. Issuing again for the same device rotates
 * the secret (the old one stops working) and lifts a revocation. The password is returned once and never stored.
 */
export async function issueDeviceCredentials(db: Queryable, deviceId: string): Promise<DeviceCredentials> {
  if (!isDeviceId(deviceId)) throw new Error(`invalid device id: "${deviceId}"`);
  const password = randomBytes(32).toString('base64url');
  await db.query(
    `INSERT INTO device_credentials (device_id, secret_hash) VALUES ($1, $2)
     ON CONFLICT (device_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, rotated_at = now(), revoked_at = NULL`,
    [deviceId, await hashSecret(password)],
  );
  return { username: deviceId, password };
}

/** Checks a device's username (its id) and password; the reason of a refusal is for the broker's log. */
export async function verifyDeviceCredentials(db: Queryable, deviceId: string, password: string): Promise<CredentialCheck> {
  const { rows } = isDeviceId(deviceId)
    ? await db.query<{ secret_hash: string; revoked: boolean }>(
        'SELECT secret_hash, revoked_at IS NOT NULL AS revoked FROM device_credentials WHERE device_id = $1',
        [deviceId],
      )
    : { rows: [] };
  const row = rows[0];
  const matches = await secretMatches(password, row?.secret_hash ?? (await UNKNOWN_DEVICE_HASH));
  if (!row) return { ok: false, reason: 'unknown device' };
  if (row.revoked) return { ok: false, reason: 'revoked' };
  if (!matches) return { ok: false, reason: 'wrong password' };
  if (!hashedWithCurrentCount(row.secret_hash)) await rehash(db, deviceId, row.secret_hash, password);
  return { ok: true };
}

/**
 * Stores the same secret hashed at the current count (see ITERATIONS). Only over the hash just verified: a rotation
 * or revocation that committed in between keeps its row. Not a rotation, so rotated_at stays.
 */
async function rehash(db: Queryable, deviceId: string, verifiedHash: string, password: string): Promise<void> {
  await db.query('UPDATE device_credentials SET secret_hash = $3 WHERE device_id = $1 AND secret_hash = $2', [deviceId, verifiedHash, await hashSecret(password)]);
}

/** Revokes a device's credentials; false when it has none or they are already revoked. Open sessions are not cut here. */
export async function revokeDeviceCredentials(db: Queryable, deviceId: string): Promise<boolean> {
  const { rows } = await db.query(
    'UPDATE device_credentials SET revoked_at = now() WHERE device_id = $1 AND revoked_at IS NULL RETURNING device_id',
    [deviceId],
  );
  return rows.length > 0;
}

/**
 * An external Mosquitto's `password_file` for the devices: every device whose credentials are not revoked, with
 * the stored hash as is. Revoking on Mosquitto means rendering this again and sending the broker SIGHUP.
 */
export async function mosquittoPasswordFile(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ device_id: string; secret_hash: string }>(
    'SELECT device_id, secret_hash FROM device_credentials WHERE revoked_at IS NULL ORDER BY device_id',
  );
  return rows.map((row) => `${row.device_id}:${row.secret_hash}\n`).join('');
}
