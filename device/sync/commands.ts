import { isUuid } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { decodePayload, encodePayload } from '../../shared/contract/decode.ts';
import { COMMAND_ERROR, COMMAND_NAMES, DeviceCommand, type CommandName, type CommandResult } from '../../shared/contract/fleet.ts';
import type { HubLink } from './hub-link.ts';

/** One command's implementation: resolves with what the hub gets back as `data`, throws to answer an error. */
export type CommandHandler = (args: Record<string, unknown>) => unknown;

export interface CommandHandlerOptions {
  hub: Pick<HubLink, 'handle' | 'publishMessage'>;
  deviceId: string;
  /** Commands this kiosk can run; any other name is answered UNKNOWN_COMMAND. */
  handlers: Partial<Record<CommandName, CommandHandler>>;
  logger: Logger;
  now?: () => Date;
  /** How many correlation ids are remembered to refuse redeliveries (QoS 1 is at-least-once). */
  rememberLast?: number;
}

function isKnownName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

/** The correlation id of a command that failed validation, if it carries a well-formed one. */
function correlationIdOf(payload: Buffer): string | undefined {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { correlationId?: unknown }).correlationId;
    return isUuid(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The kiosk's side of remote commands: validates each `cmd`, refuses an expired one (a kiosk that was
 * offline past the TTL must not print or restart hours later), runs known ones and answers every
 * correlation id exactly once on `cmd/result`.
 */
export function startCommandHandler(options: CommandHandlerOptions): void {
  const { hub, deviceId, handlers, logger } = options;
  const now = options.now ?? (() => new Date());
  const limit = options.rememberLast ?? 256;
  const seen = new Set<string>();

  const answer = (result: CommandResult): void => {
    // Not retained: a result is for the one waiting request, not for whoever subscribes later.
    if (!hub.publishMessage(topics.commandResult(deviceId), encodePayload(result), { qos: 1 })) {
      logger.warn({ correlationId: result.correlationId }, 'command result not sent: hub link is down; the hub times out');
    }
  };
  const refuse = (correlationId: string, code: string, message: string): void =>
    answer({ v: 1, correlationId, status: 'error', error: { code, message } });

  hub.handle(topics.command(deviceId), async (payload) => {
    const decoded = decodePayload(DeviceCommand, payload);
    if (!decoded.ok) {
      logger.warn({ reason: decoded.reason }, 'rejected command');
      // Answer when we can tell whom to answer, so the hub reports the fault instead of waiting out the TTL.
      const correlationId = correlationIdOf(payload);
      if (correlationId && !seen.has(correlationId)) {
        seen.add(correlationId);
        refuse(correlationId, COMMAND_ERROR.invalid, decoded.reason.slice(0, 500));
      }
      return;
    }
    const command = decoded.value;
    if (seen.has(command.correlationId)) return void logger.info({ correlationId: command.correlationId }, 'duplicate command ignored');
    seen.add(command.correlationId);
    if (seen.size > limit) seen.delete(seen.values().next().value!);

    const log = logger.child({ correlationId: command.correlationId, command: command.name });
    if (Date.parse(command.expiresAt) <= now().getTime()) {
      log.info({ expiresAt: command.expiresAt }, 'command expired before it arrived; not run');
      return refuse(command.correlationId, COMMAND_ERROR.expired, `command expired at ${command.expiresAt}`);
    }
    const handler = isKnownName(command.name) ? handlers[command.name] : undefined;
    if (!handler) return refuse(command.correlationId, COMMAND_ERROR.unknown, `this kiosk does not run "${command.name}"`);
    try {
      const data = await handler(command.args ?? {});
      log.info('command done');
      answer({ v: 1, correlationId: command.correlationId, status: 'ok', ...(data === undefined ? {} : { data }) });
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'command failed');
      refuse(command.correlationId, COMMAND_ERROR.failed, (error as Error).message.slice(0, 500));
    }
  });
}
