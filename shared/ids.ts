import { v7 as uuidv7, validate, version } from 'uuid';

/** Transaction and entity ids are UUIDv7: unique without coordination and sortable by creation time. */
export function newId(): string {
  return uuidv7();
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && validate(value);
}

export function isUuidV7(value: unknown): value is string {
  return isUuid(value) && version(value) === 7;
}

/** Device ids travel inside MQTT topics, so they may not contain '/', '+', '#' or spaces. */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const deviceIdRegex = new RegExp(DEVICE_ID_PATTERN);

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && deviceIdRegex.test(value);
}
