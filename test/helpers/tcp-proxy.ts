import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far (both sides established), for tests that want to see a reconnect. */
  readonly connections: number;
  /** A network partition: every live connection is destroyed and new ones are refused until heal(). */
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/**
 * A TCP forwarder on 127.0.0.1 that a test can partition at will, put between kiosks and the broker.
 * While cut, new connections are accepted and destroyed at once (a refused connect), so clients keep
 * retrying the way they would against an unreachable hub, and nothing half-open survives the cut.
 */
export async function startTcpProxy(options: { target: { host: string; port: number } }): Promise<TcpProxy> {
  const live = new Set<Socket>();
  let isCut = false;
  let connections = 0;
  const server = createServer((inbound) => {
    if (isCut) return void inbound.destroy();
    const outbound = createConnection(options.target);
    live.add(inbound);
    live.add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      live.delete(inbound);
      live.delete(outbound);
    };
    outbound.once('connect', () => (connections += 1));
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const cut = () => {
    isCut = true;
    for (const socket of live) socket.destroy();
    live.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    cut,
    heal() {
      isCut = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
