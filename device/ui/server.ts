import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Logger } from '../../shared/logger.ts';
import { EventStreams } from '../../shared/http/event-stream.ts';
import { MAX_AMOUNT_FEN } from '../../shared/money.ts';
import { NoMemberError, type Kiosk, type KioskView } from '../kiosk/kiosk.ts';
import { messages } from '../kiosk/messages.ts';

const page = readFileSync(new URL('./kiosk-page.html', import.meta.url), 'utf8');

export interface KioskServerOptions {
  kiosk: Kiosk;
  logger: Logger;
  /**
   * Accept bills from the emulator control (`POST /emulator/bill-stacked`) until the real bill
   * validator adapter lands. Never enabled on a kiosk with real hardware.
   */
  emulatedBillValidator: boolean;
}

/**
 * The kiosk's local web server on 127.0.0.1: the touch page, a live view stream (server-sent events)
 * and the few actions the page and the emulators need.
 */
export async function buildKioskServer({ kiosk, logger, emulatedBillValidator }: KioskServerOptions) {
  const app = Fastify({ loggerInstance: logger.child({ component: 'kiosk-ui' }) });
  const streams = new EventStreams();
  const broadcast = (view: KioskView) => streams.broadcast(view);
  kiosk.on('change', broadcast);
  app.addHook('onClose', async () => {
    kiosk.off('change', broadcast);
    streams.closeAll();
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));

  app.get('/api/view', async () => kiosk.view());

  app.get('/api/view/stream', (request, reply) => streams.attach(request, reply, [kiosk.view()]));

  app.post('/api/session/end', async () => {
    kiosk.endSession();
    return kiosk.view();
  });

  if (emulatedBillValidator) {
    app.post(
      '/emulator/bill-stacked',
      { schema: { body: Type.Object({ amountFen: Type.Integer({ minimum: 1, maximum: MAX_AMOUNT_FEN }) }, { additionalProperties: false }) } },
      async (request, reply) => {
        const { amountFen } = request.body as { amountFen: number };
        try {
          const entry = await kiosk.cashStacked(amountFen);
          return { status: 'recorded', txId: entry.tx.txId, seq: entry.tx.seq, view: kiosk.view() };
        } catch (error) {
          if (error instanceof NoMemberError) {
            return reply.code(409).send({ error: { code: 'NO_MEMBER', message: messages.noMember.en, messageZh: messages.noMember.zh } });
          }
          logger.error({ err: (error as Error).message }, 'top-up could not be recorded');
          return reply.code(500).send({ error: { code: 'NOT_RECORDED', message: messages.storageFailed.en, messageZh: messages.storageFailed.zh } });
        }
      },
    );
  }
  return app;
}
