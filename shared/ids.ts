import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7, validate, version } from 'uuid';

/**
 * The random bits of ids come from a pool filled 4 KiB at a time. uuid's own source asks the kernel for 16 bytes
 * per id: 4 µs each on this project's machines, as much as the hub spends parsing and checking the kiosk's whole
 * top-up message.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let drawn = POOL_BYTES;

function random16(): Uint8Array {
  if (drawn === POOL_BYTES) {
    randomFillSync(pool);
    drawn = 0;
  }
  drawn += 16;
  return pool.subarray(drawn - 16, drawn);
}

/** The last id's millisecond and counter: ids made within one millisecond count up, as uuid's own v7 does. */
const clock = { msecs: -Infinity, seq: 0 };

/** Transaction and entity ids are UUIDv7: unique without coordination and sortable by creation time. */
export function newId(): string {
  const random = random16();
  const now = Date.now();
  if (now > clock.msecs) {
    clock.msecs = now;
    // A random start for the millisecond's counter (31 bits), as uuid draws it.
    clock.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs++;
  }
  return uuidv7({ random, msecs: clock.msecs, seq: clock.seq });
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
