import { newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { topics } from '../../shared/contract/topics.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import { COMMAND_ERROR, type CommandName, type CommandResult, type DeviceCommand } from '../../shared/contract/fleet.ts';

export interface CommandRequest {
  name: CommandName;
  args?: Record<string, unknown>;
  /** The device must not run the command after this; the hub stops waiting at the same moment. */
  ttlSeconds: number;
}

export class CommandTimeoutError extends Error {
  constructor(deviceId: string, name: string, ttlSeconds: number) {
    super(`${deviceId} did not answer "${name}" within its ${ttlSeconds} s time-to-live`);
    this.name = 'CommandTimeoutError';
  }
}

interface Waiting {
  deviceId: string;
  resolve(result: CommandResult): void;
  timer: NodeJS.Timeout;
}

export interface CommandServiceOptions {
  /** Publishes on the broker (QoS 1, never retained: a retained command would run again on every reconnect). */
  publish(topic: string, payload: string): Promise<void>;
  logger: Logger;
  now?: () => Date;
}

/** Hub → kiosk commands: one correlation id per command, its result matched back, a timeout at the TTL. */
export class CommandService {
  private readonly waiting = new Map<string, Waiting>();
  private readonly now: () => Date;

  constructor(private readonly options: CommandServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async send(deviceId: string, request: CommandRequest): Promise<CommandResult> {
    const issuedAt = this.now();
    const command: DeviceCommand = {
      v: 1,
      correlationId: newId(),
      name: request.name,
      ...(request.args ? { args: request.args } : {}),
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + request.ttlSeconds * 1000).toISOString(),
    };
    const result = new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(command.correlationId);
        reject(new CommandTimeoutError(deviceId, request.name, request.ttlSeconds));
      }, request.ttlSeconds * 1000);
      this.waiting.set(command.correlationId, { deviceId, resolve, timer });
    });
    this.options.logger.info({ deviceId, command: request.name, correlationId: command.correlationId }, 'command sent');
    await this.options.publish(topics.command(deviceId), encodePayload(command));
    return result;
  }

  /** A validated `cmd/result` from `deviceId`; a result for someone else's command, or a late one, is dropped. */
  settle(deviceId: string, result: CommandResult): void {
    const waiting = this.waiting.get(result.correlationId);
    if (!waiting || waiting.deviceId !== deviceId) {
      return void this.options.logger.warn({ deviceId, correlationId: result.correlationId }, 'command result matches no waiting command');
    }
    this.waiting.delete(result.correlationId);
    clearTimeout(waiting.timer);
    waiting.resolve(result);
  }

  /** Stops waiting for everything (hub shutdown): each caller gets a HUB_STOPPING error result now. */
  cancelAll(): void {
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      waiting.resolve({ v: 1, correlationId: id, status: 'error', error: { code: COMMAND_ERROR.hubStopping, message: 'the hub is shutting down' } });
    }
    this.waiting.clear();
  }
}
