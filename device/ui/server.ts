import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import { EventStreams } from '../../shared/http/event-stream.ts';
import type { Kiosk, KioskView } from '../kiosk/kiosk.ts';
import type { KioskHealthRegistry } from '../health/kiosk-health.ts';

const page = readFileSync(new URL('./kiosk-page.html', import.meta.url), 'utf8');

export interface KioskServerOptions {
  kiosk: Kiosk;
  health: KioskHealthRegistry;
  logger: Logger;
}

/**
 * The kiosk's local web server on 127.0.0.1: the touch page, a live view stream (server-sent events),
 * the peripherals' health for technicians, and the member's "reprint" and "done" buttons.
 */
export async function buildKioskServer({ kiosk, health, logger }: KioskServerOptions) {
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
  app.get('/api/health', async () => health.snapshot());
  app.post('/api/receipt/reprint', async (_request, reply) => {
    const printed = await kiosk.reprintLastReceipt();
    return reply.code(printed ? 200 : 409).send(kiosk.view());
  });
  app.post('/api/session/end', async () => {
    await kiosk.endSession();
    return kiosk.view();
  });
  return app;
}
