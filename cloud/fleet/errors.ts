import { defineErrors } from '../kernel/errors.ts';

/** The fleet's refusals: each means nothing was run (or nothing is known to have run, for DEVICE_TIMEOUT). */
export const fleetErrors = defineErrors('fleet', {
  /** The hub runs without a device link (a REST-only tool): it has no fleet to show. */
  FLEET_NOT_RUNNING: 503,
  /** No kiosk with this id has ever reported to the hub. */
  DEVICE_NOT_FOUND: 404,
  /** The kiosk did not answer a command within its time-to-live (it will not run it later). */
  DEVICE_TIMEOUT: 504,
  /** The hub stopped waiting for the kiosk's answer because it is shutting down. */
  HUB_STOPPING: 503,
  // What a kiosk answers to a command (shared/contract/fleet.ts COMMAND_ERROR), passed on with its code.
  /** The kiosk does not run a command of this name. */
  UNKNOWN_COMMAND: 409,
  /** The command reached the kiosk after its expiry; it did not run. */
  EXPIRED: 409,
  /** The kiosk could not read the command. */
  INVALID_COMMAND: 400,
  /** The kiosk ran the command and it failed. */
  COMMAND_FAILED: 409,
});
