import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import { CARD_UID_PATTERN } from '../../shared/card.ts';
import type { Logger } from '../../shared/logger.ts';
import { EventStreams } from '../../shared/http/event-stream.ts';

const page = readFileSync(new URL('./control-page.html', import.meta.url), 'utf8');

/** The emulated hardware the control page drives, whichever way it is wired (in-process or through pcscd). */
export interface DemoHardware {
  tap(uid: string): Promise<void>;
  removeCard(): Promise<void>;
  stackBill(amountFen: number): Promise<void>;
  onReceipt(listener: (text: string) => void): () => void;
  printedReceipts(): string[];
}

export interface ControlServerOptions {
  hardware: DemoHardware;
  kioskUrl: string;
  cards: Array<{ uid: string; label: string }>;
  logger: Logger;
}

/** Bills a Chinese validator accepts, in yuan. */
const BILLS = [10, 20, 50, 100];

/** The demo's emulator control page: tap a card, stack a bill, watch the receipts come out. */
export async function buildControlServer({ hardware, kioskUrl, cards, logger }: ControlServerOptions) {
  const app = Fastify({ loggerInstance: logger.child({ component: 'emulator-control' }) });
  const streams = new EventStreams();
  const unsubscribe = hardware.onReceipt((text) => streams.broadcast(text));
  app.addHook('onClose', async () => {
    unsubscribe();
    streams.closeAll();
  });

  const failure = (error: unknown) => ({ error: { code: 'EMULATOR', message: (error as Error).message } });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/api/setup', async () => ({ kioskUrl, cards, bills: BILLS }));
  app.post(
    '/api/tap',
    { schema: { body: Type.Object({ uid: Type.String({ pattern: CARD_UID_PATTERN }) }) } },
    async (request, reply) => {
      const { uid } = request.body as { uid: string };
      return hardware.tap(uid).then(() => ({ ok: true }), (error) => reply.code(409).send(failure(error)));
    },
  );
  app.post('/api/remove', async (_request, reply) =>
    hardware.removeCard().then(() => ({ ok: true }), (error) => reply.code(409).send(failure(error))),
  );
  app.post(
    '/api/bill',
    { schema: { body: Type.Object({ amountFen: Type.Integer({ minimum: 100, maximum: 10000 }) }) } },
    async (request, reply) => {
      const { amountFen } = request.body as { amountFen: number };
      return hardware.stackBill(amountFen).then(() => ({ ok: true }), (error) => reply.code(409).send(failure(error)));
    },
  );
  app.get('/api/receipts/stream', (request, reply) => streams.attach(request, reply, hardware.printedReceipts()));
  return app;
}
