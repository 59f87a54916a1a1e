import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { coalesceWritesPerTurn } from './coalesced-writes.ts';

/**
 * Tunes an MQTT client's connection for many small packets. Nagle off: they would otherwise wait up to ~40 ms —
 * on every ack and every lookup (neither mqtt.js nor Aedes turns it off). And what one turn of the event loop
 * writes leaves in one write (coalesced-writes.ts): the PUBACKs of a burst of acks go back together. Call on each
 * (re)connect: every connection is a new socket.
 */
export function tuneMqttSocket(client: MqttClient): void {
  const socket = client.stream as Partial<Socket> | undefined;
  if (typeof socket?.setNoDelay !== 'function' || typeof socket.cork !== 'function') return;
  socket.setNoDelay(true);
  coalesceWritesPerTurn(socket as Socket);
}
