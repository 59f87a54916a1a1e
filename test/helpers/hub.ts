import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startHub, type RunningHub } from '../../cloud/hub.ts';
import type { HubConfig } from '../../cloud/config.ts';
import { createLogger } from '../../shared/logger.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { bindCard } from '../../cloud/cards/index.ts';

/** A hub on free ports with its PGlite data in a temp dir that outlives restarts until cleanup(). */
export class TestHub {
  hub: RunningHub | undefined;
  private constructor(
    readonly dataDir: string,
    private readonly mqttPort: number,
  ) {}

  /** `mqttPort` fixes the embedded broker's port, for tests where kiosks must find a restarted hub again. */
  static async create(options: { mqttPort?: number } = {}): Promise<TestHub> {
    return new TestHub(await mkdtemp(join(tmpdir(), 'mk-hub-')), options.mqttPort ?? 0);
  }

  config(): HubConfig {
    return {
      http: { host: '127.0.0.1', port: 0 },
      dataDir: this.dataDir,
      embeddedMqtt: { host: '127.0.0.1', port: this.mqttPort },
    };
  }

  async start(): Promise<RunningHub> {
    this.hub = await startHub(this.config(), createLogger('test-hub'));
    return this.hub;
  }

  async stop(): Promise<void> {
    await this.hub?.stop();
    this.hub = undefined;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  get running(): RunningHub {
    if (!this.hub) throw new Error('test hub is not running');
    return this.hub;
  }

  /** A member with a bound card and, optionally, an opening stored-value balance. */
  async member(name: string, cardUid: string, openingFen = 0): Promise<MemberSnapshot> {
    const { ledger } = this.running;
    const operator = { type: 'operator' as const, id: 'test-operator' };
    const created = await ledger.createMember({ name, actor: operator });
    const { member } = await bindCard(this.running.db, ledger, { memberId: created.memberId, cardUid, actor: operator });
    if (openingFen === 0) return member;
    const posted = await ledger.topUpCash({
      idempotencyKey: `opening-${created.memberId}`,
      memberId: created.memberId,
      cardUid,
      amountFen: openingFen,
      actor: operator,
    });
    return { ...member, balances: posted.member.balances, version: posted.member.version };
  }
}

/** An MQTT client that records every message it receives, so tests can wait for one without sleeping. */
export class RecordingClient {
  readonly messages: Array<{ topic: string; payload: Buffer }> = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.messages.push({ topic, payload });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(url: string, clientId: string): Promise<RecordingClient> {
    return new RecordingClient(await mqtt.connectAsync(url, { clientId, clean: true, reconnectPeriod: 0 }));
  }

  /** Resolves with the parsed JSON of the first `count` messages on `topic` once they have arrived. */
  async waitFor<T = unknown>(topic: string, count = 1, timeoutMs = 10_000): Promise<T[]> {
    const found = () => this.messages.filter((m) => m.topic === topic);
    await this.waitUntil(() => found().length >= count, () => `${count} message(s) on ${topic}; got ${found().length}`, timeoutMs);
    return found()
      .slice(0, count)
      .map((m) => JSON.parse(m.payload.toString()) as T);
  }

  /** Resolves once `done` holds for the messages received so far; fails after `timeoutMs` naming `what` it waited for. */
  async waitUntil(done: (messages: ReadonlyArray<{ topic: string; payload: Buffer }>) => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done(this.messages)) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}
