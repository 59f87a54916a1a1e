import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startCommandHandler } from '../../device/sync/commands.ts';
import { encodePayload } from '../../shared/contract/decode.ts';
import type { CommandResult, DeviceCommand } from '../../shared/contract/fleet.ts';
import { topics } from '../../shared/contract/topics.ts';
import { createLogger } from '../../shared/logger.ts';
import { newId } from '../../shared/ids.ts';
import { nextEvent } from '../helpers/events.ts';

const DEVICE = 'kiosk-cmd-1';
const NOW = new Date('2026-01-01T08:00:00.000Z');

/** The two HubLink extension points the handler uses, recording what it publishes. */
class FakeLink extends EventEmitter<{ published: [CommandResult] }> {
  handler: ((payload: Buffer) => void | Promise<void>) | undefined;
  readonly published: Array<{ topic: string; result: CommandResult; retain: boolean | undefined }> = [];
  handle(topic: string, handler: (payload: Buffer) => void | Promise<void>): void {
    expect(topic).toBe(topics.command(DEVICE));
    this.handler = handler;
  }
  publishMessage(topic: string, payload: string, options: { qos?: 0 | 1; retain?: boolean } = {}): boolean {
    const result = JSON.parse(payload) as CommandResult;
    this.published.push({ topic, result, retain: options.retain });
    this.emit('published', result);
    return true;
  }
  async deliver(payload: unknown): Promise<void> {
    await this.handler!(Buffer.from(typeof payload === 'string' ? payload : encodePayload(payload)));
  }
}

function command(name: string, overrides: Partial<DeviceCommand> = {}): DeviceCommand {
  return { v: 1, correlationId: newId(), name, issuedAt: NOW.toISOString(), expiresAt: new Date(NOW.getTime() + 30_000).toISOString(), ...overrides };
}

function setup() {
  const link = new FakeLink();
  const calls: string[] = [];
  startCommandHandler({
    hub: link,
    deviceId: DEVICE,
    logger: createLogger('test'),
    now: () => NOW,
    handlers: {
      'reprint-last-receipt': () => void calls.push('reprint'),
      'run-self-test': () => ({ overall: 'ok' }),
      'restart-app': () => {
        throw new Error('restart refused while a cash session is open');
      },
    },
  });
  return { link, calls };
}

describe('kiosk command handler', () => {
  it('runs a known command and answers ok with its data, not retained, on cmd/result', async () => {
    const { link, calls } = setup();
    const selfTest = command('run-self-test');
    await link.deliver(command('reprint-last-receipt'));
    await link.deliver(selfTest);
    expect(calls).toEqual(['reprint']);
    expect(link.published[1]).toEqual({
      topic: topics.commandResult(DEVICE),
      retain: undefined,
      result: { v: 1, correlationId: selfTest.correlationId, status: 'ok', data: { overall: 'ok' } },
    });
  });

  it('refuses unknown and unimplemented commands, and answers a failing handler with its error', async () => {
    const { link } = setup();
    await link.deliver(command('format-disk'));
    await link.deliver(command('refresh-cache'));
    await link.deliver(command('restart-app'));
    expect(link.published.map((p) => p.result.status === 'error' && p.result.error)).toEqual([
      { code: 'UNKNOWN_COMMAND', message: 'this kiosk does not run "format-disk"' },
      { code: 'UNKNOWN_COMMAND', message: 'this kiosk does not run "refresh-cache"' },
      { code: 'COMMAND_FAILED', message: 'restart refused while a cash session is open' },
    ]);
  });

  it('answers expired for a command that arrives after its expiry, without running it', async () => {
    const { link, calls } = setup();
    const stale = command('reprint-last-receipt', { expiresAt: new Date(NOW.getTime() - 1).toISOString() });
    const answered = nextEvent<CommandResult>(link, 'published');
    await link.deliver(stale);
    expect(await answered).toMatchObject({ correlationId: stale.correlationId, status: 'error', error: { code: 'EXPIRED' } });
    expect(calls).toEqual([]);
  });

  it('answers each correlation id exactly once, even when QoS 1 redelivers it', async () => {
    const { link, calls } = setup();
    const once = command('reprint-last-receipt');
    await link.deliver(once);
    await link.deliver(once);
    expect(calls).toEqual(['reprint']);
    expect(link.published).toHaveLength(1);
  });

  it('runs no malformed command: answers INVALID_COMMAND when it can tell whom to answer, else drops it', async () => {
    const { link, calls } = setup();
    await link.deliver('not json');
    await link.deliver({ v: 1, name: 'reprint-last-receipt' });
    const bad = { ...command('reprint-last-receipt'), expiresAt: 'tomorrow' };
    await link.deliver(bad);
    expect(link.published.map((p) => p.result)).toEqual([
      { v: 1, correlationId: bad.correlationId, status: 'error', error: { code: 'INVALID_COMMAND', message: expect.stringContaining('/expiresAt') } },
    ]);
    expect(calls).toEqual([]);
  });
});
