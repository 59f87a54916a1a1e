import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWritesPerTurn } from '../../shared/coalesced-writes.ts';
import { withDeadline } from '../helpers/events.ts';

/**
 * The embedded broker's sockets send what was written to them in one turn of the event loop as one write (one
 * writev into the kernel), over a real TCP connection: counted at the socket's own low-level write calls.
 */
describe('coalesceWritesPerTurn', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** A connected pair: the server's end wrapped, with its low-level writes counted, and the client's end. */
  const pair = async () => {
    const accepted = new Promise<Socket>((resolve) => (server = createServer({ noDelay: true }, resolve)));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const client = connect((server!.address() as AddressInfo).port, '127.0.0.1');
    const socket = coalesceWritesPerTurn(await withDeadline(accepted, 10_000, 'the connection to be accepted'));
    const lowLevelWrites: number[] = [];
    const { _write, _writev } = socket as unknown as { _write: Function; _writev: Function };
    Object.assign(socket, {
      _write(...args: unknown[]) {
        lowLevelWrites.push(1);
        return _write.apply(socket, args);
      },
      _writev(chunks: unknown[], callback: unknown) {
        lowLevelWrites.push(chunks.length);
        return _writev.call(socket, chunks, callback);
      },
    });
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const receivedUpTo = (text: string) =>
      withDeadline(
        new Promise<void>((resolve) => {
          const check = () => (received.length >= text.length ? resolve() : client.once('data', check));
          check();
        }),
        10_000,
        `the client to receive ${JSON.stringify(text)}`,
      ).then(() => received);
    return { socket, client, lowLevelWrites, receivedUpTo };
  };

  it('sends three writes of one turn as one, and a later turn’s write as the next', async () => {
    const { socket, client, lowLevelWrites, receivedUpTo } = await pair();
    socket.write('a');
    socket.write('b');
    socket.write('c');
    expect(lowLevelWrites).toEqual([]);
    expect(await receivedUpTo('abc')).toBe('abc');
    expect(lowLevelWrites).toEqual([3]);

    socket.write('d');
    expect(await receivedUpTo('abcd')).toBe('abcd');
    expect(lowLevelWrites).toEqual([3, 1]);
    client.destroy();
    socket.destroy();
  });

  it('still delivers what was written just before end()', async () => {
    const { socket, client, receivedUpTo } = await pair();
    socket.write('last ');
    socket.end('words');
    await withDeadline(once(client, 'end'), 10_000, 'the client to see the end');
    expect(await receivedUpTo('last words')).toBe('last words');
    client.destroy();
  });
});
