import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DEVICE_ID_PATTERN } from '../../shared/ids.ts';
import { DeviceConfig } from '../../shared/contract/payloads.ts';
import { scope, type OperatorAccess } from '../kernel/access.ts';
import type { ConfigShadow } from './config-shadow.ts';

const strict = { additionalProperties: false } as const;
const Version = Type.Integer({ minimum: 1 });

const DeviceParams = Type.Object({ deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }) }, strict);
type DeviceParams = Static<typeof DeviceParams>;

const ConfigState = Type.Object(
  {
    deviceId: Type.String(),
    desired: Type.Union([
      Type.Object({ version: Version, config: DeviceConfig, at: Type.String({ format: 'date-time' }) }, strict),
      Type.Null(),
    ]),
    reported: Type.Union([
      Type.Object(
        {
          status: Type.Union([Type.Literal('applied'), Type.Literal('rejected')]),
          version: Type.Optional(Version),
          appliedVersion: Type.Integer({ minimum: 0, description: 'The version the device runs (0: none yet)' }),
          reason: Type.Optional(Type.String()),
          at: Type.String({ format: 'date-time' }),
        },
        strict,
      ),
      Type.Null(),
    ]),
    program: Type.Optional(
      Type.Object(
        {
          desiredVersion: Type.Union([Version, Type.Null()], { description: 'The program rules version sent with the configuration' }),
          reported: Type.Union([
            Type.Object(
              {
                status: Type.Union([Type.Literal('applied'), Type.Literal('rejected')]),
                version: Version,
                appliedVersion: Type.Integer({ minimum: 0 }),
                reason: Type.Optional(Type.String()),
                at: Type.String({ format: 'date-time' }),
              },
              strict,
            ),
            Type.Null(),
          ], { description: 'What the device last said about the program rules (since this hub started)' }),
        },
        strict,
      ),
    ),
  },
  {
    ...strict,
    description:
      'Desired configuration (versions only grow; a device seen online without one gets the default as version 1, ' +
      'so it receives the program rules) and what the device last reported',
  },
);

/** The people who run the kiosks. Kiosks are not tied to operator scopes yet, so configuration is chain-wide. */
const KIOSK_KEEPERS: OperatorAccess = { roles: ['admin', 'technician'], scope: scope.none('kiosks are not tied to operator scopes yet: configuration is chain-wide') };

/**
 * REST for device configuration: PUT stores the next desired version and publishes it to the kiosk; GET shows
 * desired next to reported. Register under the API prefix: `app.register(deviceConfigRoutes(shadow), { prefix: API_PREFIX })`.
 */
export function deviceConfigRoutes(shadow: ConfigShadow) {
  return async (app: FastifyInstance): Promise<void> => {
    app.put<{ Params: DeviceParams; Body: DeviceConfig }>(
      '/devices/:deviceId/config',
      {
        config: { access: KIOSK_KEEPERS, errors: [] },
        schema: {
          summary: "Set a device's desired configuration; it gets the next version and is sent to the device",
          tags: ['devices'],
          params: DeviceParams,
          body: DeviceConfig,
          response: { 200: ConfigState },
        },
      },
      async (request) => {
        await shadow.setDesired(request.params.deviceId, request.body);
        return shadow.get(request.params.deviceId);
      },
    );

    app.get<{ Params: DeviceParams }>(
      '/devices/:deviceId/config',
      {
        config: { access: KIOSK_KEEPERS, errors: [] },
        schema: {
          summary: "A device's desired and reported configuration",
          tags: ['devices'],
          params: DeviceParams,
          response: { 200: ConfigState },
        },
      },
      async (request) => shadow.get(request.params.deviceId),
    );
  };
}
