import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Server-sent events for live pages (kiosk screen, emulator control, dashboards): one object per page
 * stream, JSON per event, closed streams forgotten as soon as the browser goes away.
 */
export class EventStreams {
  private readonly streams = new Set<ServerResponse>();

  /** Takes over the reply, sends the initial events, then keeps the stream for broadcasts. */
  attach(request: FastifyRequest, reply: FastifyReply, initial: unknown[] = []): void {
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for (const data of initial) stream.write(format(data));
    this.streams.add(stream);
    request.raw.on('close', () => this.streams.delete(stream));
  }

  broadcast(data: unknown): void {
    const event = format(data);
    for (const stream of this.streams) stream.write(event);
  }

  closeAll(): void {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
  }
}

function format(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}
