import { Readable } from 'node:stream';

/** What this module needs of an Aedes persistence (aedes-persistence's memory persistence has both). */
export interface RetainedPersistence {
  storeRetained(packet: RetainedPacket): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

interface RetainedPacket {
  topic: string;
  payload: Buffer;
}

const hasWildcard = (filter: string) => filter.includes('+') || filter.includes('#');

/**
 * Aedes' memory persistence answers every SUBSCRIBE by testing its filters against every retained message
 * (aedes-persistence 11, retainedMessagesByPattern). Every kiosk keeps a retained status and a retained
 * configuration, so with N kiosks connected each new kiosk's subscriptions scan 2N messages, and a fleet's ramp-up
 * costs O(N²): at 10,000 kiosks that — not the login — bounded connects per second. A kiosk subscribes only to
 * exact topics of its own subtree, which need no scan: this keeps the retained messages in a map by topic as well
 * and answers a SUBSCRIBE whose filters have no wildcard from it. Filters with wildcards (the hub's) still go to
 * the persistence, which stays the store of record.
 */
export function indexRetainedByTopic(persistence: RetainedPersistence): void {
  const byTopic = new Map<string, RetainedPacket>();
  const store = persistence.storeRetained.bind(persistence);
  const stream = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.storeRetained = async (packet) => {
    // An empty retained payload clears the topic (MQTT 3.1.1, 3.3.1.3), as the persistence does.
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
    await store(packet);
  };
  persistence.createRetainedStreamCombi = (patterns) =>
    patterns.some(hasWildcard) ? stream(patterns) : Readable.from(patterns.flatMap((topic) => byTopic.get(topic) ?? []));
}
