import type { Socket } from 'node:net';

/** Sockets already wrapped: a connection is tuned once, however often its owner is told it connected. */
const wrapped = new WeakSet<Socket>();

/**
 * Makes everything written to `socket` in one turn of the event loop leave in one write, at the start of the next
 * turn's check phase. MQTT libraries write packet by packet from callbacks of their own: Aedes delivers each packet
 * from its own setImmediate, mqtt.js answers each QoS 1 message with a PUBACK of its own, and mqtt-packet uncorks on
 * the next tick. So ten acks to a kiosk in a batch went out as ten writev calls, and its ten PUBACKs came back as ten
 * more — each a trip through the TCP stack on both sides and a read by the peer. Under the ingest bench those
 * writes were a third of the hub process's CPU time, against 3 % for the JSON of the same messages. Held at most
 * one turn: when the process is idle that is microseconds (Nagle stays off).
 */
export function coalesceWritesPerTurn(socket: Socket): Socket {
  if (wrapped.has(socket)) return socket;
  wrapped.add(socket);
  const write = socket.write;
  let held = false;
  const release = () => {
    held = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!held) {
      held = true;
      socket.cork();
      setImmediate(release);
    }
    return write.apply(this, args);
  } as Socket['write'];
  return socket;
}
