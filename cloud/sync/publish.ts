/** How the sync features send to a device: the gateway's MQTT client at QoS 1. */
export type Publish = (topic: string, payload: string, options?: { retain?: boolean }) => Promise<void>;
