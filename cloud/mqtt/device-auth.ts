import { createHash, timingSafeEqual } from 'node:crypto';
import type { CredentialCheck } from '../devices/index.ts';
import type { Principal } from './acl.ts';

/** How the embedded broker checks who connects: per-device credentials from the hub DB, one configured hub user. */
export interface BrokerAuth {
  hubUsername: string;
  hubPassword: string;
  /** Usually `(id, password) => verifyDeviceCredentials(db, id, password)`. */
  verifyDevice(deviceId: string, password: string): Promise<CredentialCheck>;
}

/** MQTT 3.1.1 CONNACK return codes this module refuses with. */
export const CONNACK = { IDENTIFIER_REJECTED: 2, NOT_AUTHORIZED: 5 } as const;

export type ConnectDecision =
  | { ok: true; principal: Principal }
  | { ok: false; returnCode: (typeof CONNACK)[keyof typeof CONNACK]; reason: string };

// Comparing digests keeps the comparison constant-time whatever the lengths of the two passwords.
function samePassword(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Decides a CONNECT. The hub user may use any client id (several hub instances connect at once); a device's
 * client id must equal its username, so one kiosk cannot take over another's session by borrowing its id.
 */
export async function authenticateConnect(
  auth: BrokerAuth,
  connect: { clientId: string; username: string | undefined; password: Buffer | undefined },
): Promise<ConnectDecision> {
  const { clientId, username } = connect;
  const password = connect.password?.toString('utf8');
  if (username === undefined || password === undefined) {
    return { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, reason: 'no username or password' };
  }
  if (username === auth.hubUsername) {
    return samePassword(password, auth.hubPassword)
      ? { ok: true, principal: { role: 'hub' } }
      : { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, reason: 'wrong hub password' };
  }
  if (clientId !== username) {
    return { ok: false, returnCode: CONNACK.IDENTIFIER_REJECTED, reason: 'client id differs from the device username' };
  }
  const check = await auth.verifyDevice(username, password);
  return check.ok
    ? { ok: true, principal: { role: 'device', deviceId: username } }
    : { ok: false, returnCode: CONNACK.NOT_AUTHORIZED, reason: check.reason };
}
