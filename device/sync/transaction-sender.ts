import { encodePayload, envelopesWithinPayloadLimit } from '../../shared/contract/decode.ts';
import { DeviceTransactions, type DeviceTransaction } from '../../shared/contract/payloads.ts';
import { topics } from '../../shared/contract/topics.ts';

/**
 * Puts a kiosk's outbox transactions on the wire: each alone on `tx`, or — once this connection's hub has answered
 * on `tx/acks`, which only a hub that also reads `txs` does — the first publishes handed over in one turn together
 * on `txs` (a backlog's window goes out in a few messages instead of one per transaction). A resend always goes
 * alone on `tx`, which every hub reads: a kiosk that guessed wrong about its hub still gets its transactions in.
 */
export class TransactionSender {
  /** The hub of this connection answered on tx/acks. */
  private hubTakesGroups = false;
  private queued: string[] = [];

  constructor(
    private readonly deviceId: string,
    private readonly publish: (topic: string, payload: string) => void,
  ) {}

  /** A new connection: what hub is behind it is not known yet. */
  connected(): void {
    this.hubTakesGroups = false;
  }

  /** The hub answered on tx/acks. */
  hubAnsweredTogether(): void {
    this.hubTakesGroups = true;
  }

  send(tx: DeviceTransaction, resend: boolean): void {
    const encoded = encodePayload(tx);
    if (resend || !this.hubTakesGroups) return this.publish(topics.tx(this.deviceId), encoded);
    if (this.queued.push(encoded) === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const queued = this.queued.splice(0);
    if (queued.length === 1) return this.publish(topics.tx(this.deviceId), queued[0]!);
    for (const message of envelopesWithinPayloadLimit('txs', queued, DeviceTransactions.properties.txs.maxItems!)) this.publish(topics.txs(this.deviceId), message);
  }
}
