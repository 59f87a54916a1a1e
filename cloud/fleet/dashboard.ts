import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { scope, type OperatorAccess } from '../kernel/access.ts';
import type { Bilingual, ErrorCode, HubError } from '../kernel/errors.ts';
import { EventStreams } from '../../shared/http/event-stream.ts';
import { COMMAND_ERROR, type CommandName } from '../../shared/contract/fleet.ts';
import { CommandTimeoutError } from './commands.ts';
import { fleetErrors } from './errors.ts';
import type { Fleet } from './fleet-service.ts';
import * as S from './schemas.ts';

const page = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8');

/**
 * A kiosk's answer to a command it did not run, by its code (kept as the kiosk gave it): a refusal is a conflict
 * with the kiosk's state, a command it could not read a bad request, a stopping hub unavailable.
 */
const DEVICE_REFUSALS: Readonly<Record<string, { error: ErrorCode; text: Bilingual }>> = {
  [COMMAND_ERROR.unknown]: { error: fleetErrors.UNKNOWN_COMMAND, text: { zh: '该终端不支持此命令', en: 'The kiosk does not run this command' } },
  [COMMAND_ERROR.expired]: { error: fleetErrors.EXPIRED, text: { zh: '命令到达终端时已过期，未执行', en: 'The command had expired when it reached the kiosk; it did not run' } },
  [COMMAND_ERROR.invalid]: { error: fleetErrors.INVALID_COMMAND, text: { zh: '终端无法识别此命令', en: 'The kiosk could not read the command' } },
  [COMMAND_ERROR.failed]: { error: fleetErrors.COMMAND_FAILED, text: { zh: '终端执行命令失败', en: 'The kiosk failed to run the command' } },
  [COMMAND_ERROR.hubStopping]: { error: fleetErrors.HUB_STOPPING, text: { zh: '中心正在关闭，已停止等待终端答复', en: 'The hub is shutting down and stopped waiting for the kiosk' } },
};

/** The kiosk's refusal as the hub's error; the kiosk's own words (English, for technicians) follow the English half. */
function deviceRefusal({ code, message }: { code: string; message: string }): HubError {
  const known = DEVICE_REFUSALS[code];
  if (known) return known.error({ zh: known.text.zh, en: `${known.text.en}: ${message}` });
  // A code this hub does not know (a newer kiosk): the command did not succeed, and the code is named.
  const failed = DEVICE_REFUSALS[COMMAND_ERROR.failed]!;
  return failed.error({ zh: `${failed.text.zh}（${code}）`, en: `${failed.text.en} (${code}): ${message}` });
}

function commandTimedOut(deviceId: string, name: CommandName, ttlSeconds: number): HubError {
  return fleetErrors.DEVICE_TIMEOUT({
    zh: `终端 ${deviceId} 在 ${ttlSeconds} 秒内没有答复命令「${name}」，过期后也不会执行`,
    en: `${deviceId} did not answer "${name}" within its ${ttlSeconds} s time-to-live; it will not run it later`,
  });
}

/** The people who run the kiosks. Kiosks are not tied to operator scopes yet, so these routes are chain-wide. */
const KIOSK_KEEPERS: OperatorAccess = { roles: ['admin', 'technician'], scope: scope.none('kiosks are not tied to operator scopes yet: the fleet is chain-wide') };

/** The dashboard page: `GET /dashboard`. It holds no data; it asks the API with the operator's token. */
export async function registerFleetPage(app: FastifyInstance): Promise<void> {
  app.get(
    '/dashboard',
    { config: { access: { public: 'a static page: the data comes from the API, with the operator’s token' }, errors: [] }, schema: { hide: true } },
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
    {
      config: { access: KIOSK_KEEPERS, errors: [fleetErrors.FLEET_NOT_RUNNING] },
      schema: { summary: 'Every kiosk with availability, health, backlog and alerts', tags: ['fleet'], response: { 200: S.FleetResponse } },
    },
    async () => {
      const fleet = running();
      return { summary: fleet.summary(), devices: fleet.devices() };
    },
  );

  app.get(
    '/fleet/stream',
    { config: { access: KIOSK_KEEPERS, errors: [fleetErrors.FLEET_NOT_RUNNING] }, schema: { summary: 'Live fleet updates (text/event-stream)', tags: ['fleet'] } },
    (request, reply) => {
      const fleet = running();
      streams.attach(request, reply, [{ type: 'snapshot', summary: fleet.summary(), devices: fleet.devices() }]);
    },
  );

  app.post<{ Params: S.DeviceParams; Body: S.CommandBody }>(
    '/devices/:deviceId/commands',
    {
      config: {
        access: KIOSK_KEEPERS,
        errors: [
          fleetErrors.FLEET_NOT_RUNNING,
          fleetErrors.DEVICE_NOT_FOUND,
          fleetErrors.DEVICE_TIMEOUT,
          fleetErrors.HUB_STOPPING,
          fleetErrors.UNKNOWN_COMMAND,
          fleetErrors.EXPIRED,
          fleetErrors.INVALID_COMMAND,
          fleetErrors.COMMAND_FAILED,
        ],
      },
      schema: {
        summary: 'Send a command to a kiosk and wait for its answer (at most ttlSeconds)',
        description: '404 unknown device; 409 the kiosk refused or failed it (unknown, expired, failed); 503 the hub is stopping; 504 no answer within the TTL.',
        tags: ['fleet'],
        params: S.DeviceParams,
        body: S.CommandBody,
        response: { 200: S.CommandReply },
      },
    },
    async (request) => {
      const { deviceId } = request.params;
      const fleet = running();
      if (!fleet.registry.get(deviceId)) {
        throw fleetErrors.DEVICE_NOT_FOUND({ zh: `终端 ${deviceId} 从未向本中心报到`, en: `No device ${deviceId} has ever reported to this hub` });
      }
      let result;
      try {
        result = await fleet.sendCommand(deviceId, request.body);
      } catch (error) {
        if (error instanceof CommandTimeoutError) throw commandTimedOut(deviceId, request.body.name, request.body.ttlSeconds);
        throw error;
      }
      if (result.status === 'ok') return { correlationId: result.correlationId, ...('data' in result ? { data: result.data } : {}) };
      throw deviceRefusal(result.error);
    },
  );
}
