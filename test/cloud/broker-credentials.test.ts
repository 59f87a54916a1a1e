import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  issueDeviceCredentials,
  mosquittoPasswordFile,
  revokeDeviceCredentials,
  verifyDeviceCredentials,
} from '../../cloud/devices/credentials.ts';
import { BACKENDS, useDatabases } from './support.ts';

const databases = useDatabases();

describe.each(BACKENDS)('device credential store on %s', (backend) => {
  it('issues a random secret, keeps only its hash and verifies it', async () => {
    const db = await databases.open(backend);
    const issued = await issueDeviceCredentials(db, 'kiosk-1');
    expect(issued.username).toBe('kiosk-1');
    expect(issued.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await issueDeviceCredentials(db, 'kiosk-2')).password).not.toBe(issued.password);

    const { rows } = await db.query<Record<string, unknown>>('SELECT * FROM device_credentials WHERE device_id = $1', ['kiosk-1']);
    expect(JSON.stringify(rows)).not.toContain(issued.password);
    expect(rows[0]).toMatchObject({ secret_hash: expect.stringMatching(/^\$7\$101\$/), rotated_at: null, revoked_at: null });

    expect(await verifyDeviceCredentials(db, 'kiosk-1', issued.password)).toEqual({ ok: true });
    expect(await verifyDeviceCredentials(db, 'kiosk-1', `${issued.password}x`)).toEqual({ ok: false, reason: 'wrong password' });
    expect(await verifyDeviceCredentials(db, 'kiosk-9', issued.password)).toEqual({ ok: false, reason: 'unknown device' });
    expect(await verifyDeviceCredentials(db, 'mk/#', issued.password)).toEqual({ ok: false, reason: 'unknown device' });
    await expect(issueDeviceCredentials(db, 'kiosk/+')).rejects.toThrow(/invalid device id/);
  });

  it('revokes, and issuing again rotates the secret and lifts the revocation', async () => {
    const db = await databases.open(backend);
    const first = await issueDeviceCredentials(db, 'kiosk-r');
    expect(await revokeDeviceCredentials(db, 'kiosk-r')).toBe(true);
    expect(await revokeDeviceCredentials(db, 'kiosk-r')).toBe(false);
    expect(await revokeDeviceCredentials(db, 'kiosk-none')).toBe(false);
    expect(await verifyDeviceCredentials(db, 'kiosk-r', first.password)).toEqual({ ok: false, reason: 'revoked' });

    const second = await issueDeviceCredentials(db, 'kiosk-r');
    expect(await verifyDeviceCredentials(db, 'kiosk-r', second.password)).toEqual({ ok: true });
    expect(await verifyDeviceCredentials(db, 'kiosk-r', first.password)).toEqual({ ok: false, reason: 'wrong password' });
    const { rows } = await db.query<{ rotated: boolean; revoked: boolean }>(
      'SELECT rotated_at IS NOT NULL AS rotated, revoked_at IS NOT NULL AS revoked FROM device_credentials WHERE device_id = $1',
      ['kiosk-r'],
    );
    expect(rows).toEqual([{ rotated: true, revoked: false }]);
  });

  it('verifies a hash stored with 100,000 iterations (before issue 10), then stores it at the current count', async () => {
    const db = await databases.open(backend);
    const password = randomBytes(32).toString('base64url');
    const salt = randomBytes(12);
    const old = `$7$100000$${salt.toString('base64')}$${pbkdf2Sync(password, salt, 100_000, 64, 'sha512').toString('base64')}`;
    await db.query('INSERT INTO device_credentials (device_id, secret_hash) VALUES ($1, $2)', ['kiosk-old', old]);
    expect(await verifyDeviceCredentials(db, 'kiosk-old', `${password}x`)).toEqual({ ok: false, reason: 'wrong password' });
    expect((await db.query('SELECT 1 FROM device_credentials WHERE secret_hash = $1', [old])).rows).toHaveLength(1);

    expect(await verifyDeviceCredentials(db, 'kiosk-old', password)).toEqual({ ok: true });
    const { rows } = await db.query<{ secret_hash: string; rotated: boolean }>(
      'SELECT secret_hash, rotated_at IS NOT NULL AS rotated FROM device_credentials WHERE device_id = $1',
      ['kiosk-old'],
    );
    expect(rows).toEqual([{ secret_hash: expect.stringMatching(/^\$7\$101\$/), rotated: false }]);
    expect(await verifyDeviceCredentials(db, 'kiosk-old', password)).toEqual({ ok: true });
  });

  it('renders the Mosquitto password file from the rows that are not revoked', async () => {
    const db = await databases.open(backend);
    await issueDeviceCredentials(db, 'kiosk-m1');
    await issueDeviceCredentials(db, 'kiosk-m2');
    await revokeDeviceCredentials(db, 'kiosk-m1');
    expect(await mosquittoPasswordFile(db)).toMatch(/^kiosk-m2:\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
  });
});
