/** Kiosk credentials: each device logs in to the broker with its own, issued at enrolment and revocable. */
import type { HubModule } from '../kernel/module.ts';

export { issueDeviceCredentials, mosquittoPasswordFile, revokeDeviceCredentials, verifyDeviceCredentials, type CredentialCheck, type DeviceCredentials } from './credentials.ts';

export function devicesModule(): HubModule {
  return { name: 'devices', tables: ['device_credentials'] };
}
