import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';

/**
 * Small MQTT packets otherwise wait up to ~40 ms for Nagle's algorithm — on every ack and every lookup.
 * Neither mqtt.js nor Aedes turns it off. Call on each (re)connect: every connection is a new socket.
 */
export function noDelay(client: MqttClient): void {
  (client.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
}
