import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { EventStreams } from '../../shared/http/event-stream.ts';
import { COMMAND_ERROR } from '../../shared/contract/fleet.ts';
import { CommandTimeoutError } from './commands.ts';
import type { Fleet } from './fleet-service.ts';
import * as S from './schemas.ts';

const page = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8');

/** A device's refusal is a conflict with its state; a malformed command is the caller's fault; a stopping hub is unavailable. */
const STATUS_OF_DEVICE_ERROR: Record<string, number> = { [COMMAND_ERROR.invalid]: 400, [COMMAND_ERROR.hubStopping]: 503 };

/**
 * The fleet dashboard and its API on the hub: `GET /dashboard` (page), `GET /api/v1/fleet` (JSON),
 * `GET /api/v1/fleet/stream` (server-sent events: a snapshot, then every device change and summary) and
 * `POST /api/v1/devices/:deviceId/commands`. Register on the root app (paths are absolute).
 */
export async function registerFleetDashboard(app: FastifyInstance, fleet: Fleet): Promise<void> {
  const streams = new EventStreams();
  const onChange = (device: unknown) => streams.broadcast({ type: 'device', device });
  const onSummary = (summary: unknown) => streams.broadcast({ type: 'summary', summary });
  fleet.on('change', onChange);
  fleet.on('summary', onSummary);
  app.addHook('onClose', async () => {
    fleet.off('change', onChange);
    fleet.off('summary', onSummary);
    streams.closeAll();
  });

  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));

  app.get(
    '/api/v1/fleet',
    { schema: { summary: 'Every kiosk with availability, health, backlog and alerts', tags: ['fleet'], response: { 200: S.FleetResponse } } },
    async () => ({ summary: fleet.summary(), devices: fleet.devices() }),
  );

  app.get('/api/v1/fleet/stream', { schema: { summary: 'Live fleet updates (text/event-stream)', tags: ['fleet'] } }, (request, reply) => {
    streams.attach(request, reply, [{ type: 'snapshot', summary: fleet.summary(), devices: fleet.devices() }]);
  });

  app.post<{ Params: S.DeviceParams; Body: S.CommandBody }>(
    '/api/v1/devices/:deviceId/commands',
    {
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
