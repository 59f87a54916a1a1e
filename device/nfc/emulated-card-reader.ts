import { EventEmitter } from 'node:events';
import { maskCardUid, normalizeCardUid } from '../../shared/card.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import type { CardReader, CardReaderEvents } from './card-reader.ts';

/**
 * A reader with no hardware and no pcscd, for the demo: tap(uid) and removeCard() emit exactly the
 * events a PC/SC reader would.
 */
export class EmulatedCardReader extends EventEmitter<CardReaderEvents> implements CardReader {
  private running = false;
  private cardUid: string | null = null;

  constructor(
    readonly readerName = 'Emulated NFC reader',
    private readonly logger: Logger = createLogger('nfc'),
  ) {
    super();
  }

  async start(): Promise<void> {
    this.running = true;
    this.emit('reader-connected', { readerName: this.readerName });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cardUid = null;
  }

  /** Places a card on the reader; a card already there is taken off first, as only one fits. */
  tap(rawUid: string): void {
    if (!this.running) throw new Error('the emulated reader is not started');
    const uid = normalizeCardUid(rawUid);
    this.removeCard();
    this.cardUid = uid;
    this.logger.info({ card: maskCardUid(uid), reader: this.readerName }, 'card tapped');
    this.emit('card', { uid, readerName: this.readerName });
  }

  removeCard(): void {
    if (!this.running || this.cardUid === null) return;
    const uid = this.cardUid;
    this.cardUid = null;
    this.emit('card-removed', { uid, readerName: this.readerName });
  }
}
