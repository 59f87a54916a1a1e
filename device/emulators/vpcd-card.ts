import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createLogger } from '../../shared/logger.ts';
import { StorageCard, type CardModel, type StorageCardOptions } from './card-models.ts';

const logger = createLogger('vpcd-card');

/** One-byte messages from vpcd (vsmartcard vpcd.h). Any longer message is a command APDU. */
const VpcdControl = { powerOff: 0x00, powerOn: 0x01, reset: 0x02, getAtr: 0x04 } as const;

/** vpcd frames every message both ways as a 2-byte big-endian length, then the payload. */
function vpcdFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(2);
  header.writeUInt16BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** Splits a TCP byte stream into vpcd payloads; frames may arrive split or several per chunk. */
class VpcdFrameReader {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const payloads: Buffer[] = [];
    while (this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + length) break;
      payloads.push(this.pending.subarray(2, 2 + length));
      this.pending = this.pending.subarray(2 + length);
    }
    return payloads;
  }
}

/**
 * Answers one vpcd message: ATR for "get ATR", nothing for power/reset (which end the card's session
 * state, as a real power cycle does), the card's response for an APDU.
 */
function answerVpcdMessage(card: CardModel, payload: Buffer): Buffer | undefined {
  if (payload.length === 0) return undefined;
  if (payload.length === 1) {
    if (payload[0] === VpcdControl.getAtr) return card.atr;
    if (payload[0] !== VpcdControl.powerOff) card.reset?.();
    return undefined;
  }
  return card.respond(payload);
}

export interface VirtualCardOptions {
  /**
   * The card is pulled away after answering this many APDUs: the next APDU finds no card. That is a
   * member lifting the card while the kiosk is still reading it.
   */
  leaveAfterApdus?: number;
}

/**
 * A contactless card on vsmartcard's virtual reader: connecting to vpcd's port places the card on the
 * reader, closing the socket takes it away. pcscd then sees insert/remove exactly as with real hardware.
 */
export class VirtualCard {
  private readonly model: CardModel;
  private socket: Socket | undefined;

  constructor(card: StorageCardOptions | CardModel, private readonly options: VirtualCardOptions = {}) {
    this.model = 'respond' in card ? card : new StorageCard(card);
  }

  get inserted(): boolean {
    return this.socket !== undefined;
  }

  async insert(port: number, host = '127.0.0.1'): Promise<void> {
    if (this.socket) throw new Error('card is already on a reader; remove() it first');
    const socket = connect({ port, host });
    const frames = new VpcdFrameReader();
    let apdusLeft = this.options.leaveAfterApdus ?? Infinity;
    this.model.reset?.();
    socket.on('data', (chunk) => {
      for (const payload of frames.push(chunk)) {
        if (payload.length > 1 && apdusLeft-- <= 0) {
          socket.destroy();
          return;
        }
        const reply = answerVpcdMessage(this.model, payload);
        if (reply) socket.write(vpcdFrame(reply));
      }
    });
    // The card must outlive a misbehaving reader: socket errors end the session, never the process.
    socket.on('error', (error) => logger.warn({ err: error.message }, 'vpcd connection failed'));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    this.socket = socket;
    try {
      await once(socket, 'connect');
    } catch (error) {
      this.socket = undefined;
      throw new Error(`cannot reach vpcd at ${host}:${port}: ${(error as Error).message}`, { cause: error });
    }
  }

  async remove(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
  }
}
