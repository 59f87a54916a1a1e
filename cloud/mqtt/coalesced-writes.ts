import type { Socket } from 'node:net';

/**
 * Makes everything written to `socket` in one turn of the event loop leave in one write, at the start of the next
 * turn's check phase. Aedes writes each delivered packet from a setImmediate of its own, and mqtt-packet uncorks
 * on the next tick, so ten acks to one kiosk in a batch went out as ten writev calls — ten trips through the TCP
 * stack on each side, the hub process's largest cost under load (a third of its CPU, against 3 % for the JSON of
 * those messages). Held at most one turn: when the hub is idle that is microseconds, and Nagle stays off.
 */
export function coalesceWritesPerTurn(socket: Socket): Socket {
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
