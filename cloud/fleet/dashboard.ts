import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { scope, type OperatorAccess } from '../kernel/access.ts';
import { EventStreams } from '../../shared/http/event-stream.ts';
import { COMMAND_ERROR } from '../../shared/contract/fleet.ts';
import { CommandTimeoutError } from './commands.ts';
import type { Fleet } from './fleet-service.ts';
import * as S from './schemas.ts';

const page = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8');

/** A device's refusal is a conflict with its state; a malformed command is the caller's fault; a stopping hub is unavailable. */
const STATUS_OF_DEVICE_ERROR: Record<string, number> = { [COMMAND_ERROR.invalid]: 400, [COMMAND_ERROR.hubStopping]: 503 };

/** The people who run the kiosks. Kiosks are not tied to operator scopes yet, so these routes are chain-wide. */
const KIOSK_KEEPERS: OperatorAccess = { roles: ['admin', 'technician'], scope: scope.none('kiosks are not tied to operator scopes yet: the fleet is chain-wide') };

/** The dashboard page: `GET /dashboard`. It holds no data; it asks the API with the operator's token. */
export async function registerFleetPage(app: FastifyInstance): Promise<void> {
  app.get(
    '/dashboard',
    { config: { access: { public: 'a static page: the data comes from the API, with the operator’s token' } }, schema: { hide: true } },
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(page),
  );
}

/**
 * The fleet API (register under /api/v1): `GET /fleet` (JSON), `GET /fleet/stream` (server-sent events: a
 * snapshot, then every device change and summary, broadcast to `streams` by the fleet module) and
 * `POST /devices/:deviceId/commands`. `running()` is the fleet, or the refusal when the hub runs without one.
 */
export async function registerFleetRoutes(app: FastifyInstance, { running, streams }: { running: () => Fleet; streams: EventStreams }): Promise<void> {
  // Open streams would keep the server from closing.
  app.addHook('onClose', async () => streams.closeAll());
  app.get(
    '/fleet',
    { config: { access: KIOSK_KEEPERS }, schema: { summary: 'Every kiosk with availability, health, backlog and alerts', tags: ['fleet'], response: { 200: S.FleetResponse } } },
    async () => {
      const fleet = running();
      return { summary: fleet.summary(), devices: fleet.devices() };
    },
  );

  app.get('/fleet/stream', { config: { access: KIOSK_KEEPERS }, schema: { summary: 'Live fleet updates (text/event-stream)', tags: ['fleet'] } }, (request, reply) => {
    const fleet = running();
    streams.attach(request, reply, [{ type: 'snapshot', summary: fleet.summary(), devices: fleet.devices() }]);
  });

  app.post<{ Params: S.DeviceParams; Body: S.CommandBody }>(
    '/devices/:deviceId/commands',
    {
      config: { access: KIOSK_KEEPERS },
      schema: {
        summary: 'Send a command to a kiosk and wait for its answer (at most ttlSeconds)',
        description: '404 unknown device; 409 the kiosk refused or failed it (unknown, expired, failed); 503 the hub is stopping; 504 no answer within the TTL.',
        tags: ['fleet'],
        params: S.DeviceParams,
        body: S.CommandBody,
        response: { 200: S.CommandReply, 400: S.ErrorReply, 404: S.ErrorReply, 409: S.ErrorReply, 503: S.ErrorReply, 504: S.ErrorReply },
      },
    },
    async (request, reply) => {
      const { deviceId } = request.params;
      const fleet = running();
      if (!fleet.registry.get(deviceId)) {
        return reply.status(404).send({ error: { code: 'DEVICE_NOT_FOUND', message: `No device ${deviceId} has ever reported to this hub` } });
      }
      try {
        const result = await fleet.sendCommand(deviceId, request.body);
        if (result.status === 'ok') return { correlationId: result.correlationId, ...('data' in result ? { data: result.data } : {}) };
        return reply.status(STATUS_OF_DEVICE_ERROR[result.error.code] ?? 409).send({ error: result.error });
      } catch (error) {
        if (!(error instanceof CommandTimeoutError)) throw error;
        return reply.status(504).send({ error: { code: 'DEVICE_TIMEOUT', message: error.message } });
      }
    },
  );
}
