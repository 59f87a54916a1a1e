import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../../shared/logger.ts';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The default MQTT broker: Aedes inside the hub process, so a single `npm start` needs no other server.
 * MQTT 3.1.1 over plain TCP on the given host/port (port 0 picks a free one). For more than one hub
 * instance use an external broker (MQTT_URL) with shared subscriptions — Aedes has none.
 */
export async function startEmbeddedBroker(options: { host?: string; port?: number; logger: Logger }): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker();
  aedes.on('clientError', (client, error) => {
    options.logger.debug({ clientId: client.id, err: error.message }, 'mqtt client error');
  });
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ host, port }, 'embedded MQTT broker listening');
  return {
    url: `mqtt://${host}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
