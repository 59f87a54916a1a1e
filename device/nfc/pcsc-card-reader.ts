import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { NFC, type Card, type Reader } from 'nfc-pcsc';
import { InvalidCardError, maskCardUid, normalizeCardUid } from '../../shared/card.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { CardReaderError, type CardReader, type CardReaderEvents } from './card-reader.ts';

/** Where libpcsclite looks for pcscd; PCSCLITE_CSOCK_NAME overrides it (the C library reads it once). */
function pcscdSocketPath(): string {
  return process.env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
}

/**
 * nfc-pcsc's native constructor retries SCardEstablishContext in a busy loop on the main thread while
 * pcscd is absent — the kiosk would hang, not fail. So connect to the daemon's socket first.
 */
function assertPcscdReachable(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve();
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(new CardReaderError(
        `PC/SC daemon (pcscd) is not reachable at ${socketPath} (${error.code ?? error.message}); start pcscd — Debian: apt-get install -y pcscd`,
        null,
        { cause: error },
      ));
    });
  });
}

const DISCONNECT_SETTLE_MS = 2_000;

/**
 * nfc-pcsc disconnects from a removed card asynchronously. Closing the reader while that SCardDisconnect
 * is in flight deadlocks pcsclite's native close (it joins a status thread that never wakes up), which
 * freezes the whole event loop — so stop() first lets any such disconnect finish.
 */
async function settleDisconnect(reader: Reader): Promise<void> {
  const deadline = Date.now() + DISCONNECT_SETTLE_MS;
  // Yield before the first check: stop() called from a 'card-removed' handler runs before nfc-pcsc has
  // even cleared reader.card and started the disconnect.
  do {
    await delay(5);
  } while (reader.card === null && reader.connection !== null && Date.now() < deadline);
}

/** Turns nfc-pcsc's and pcsclite's messages into ones a technician (or the kiosk UI log) can act on. */
function explain(error: Error, readerName: string | null): CardReaderError {
  const text = error.message;
  let message = `NFC reader error: ${text}`;
  if (text.includes('AID was not set')) {
    message = 'this card cannot be read here: it is an ISO 14443-4 card (a phone, bank or transit card?), not a member card';
  } else if (error.name === 'GetUIDError') {
    message = `could not read the card's UID (${text}); hold the card still and tap again`;
  } else if (/0x8010001D|0x80100013/i.test(text)) {
    // SCARD_E_NO_SERVICE / SCARD_F_COMM_ERROR ("RPC transport error"): what clients see when pcscd dies.
    message = `lost the PC/SC daemon (pcscd) (${text}); restart it`;
  }
  return new CardReaderError(message, readerName, { cause: error });
}

/** NFC readers through pcscd (PC/SC) with nfc-pcsc, which reads a storage card's UID by itself. */
export class PcscCardReader extends EventEmitter<CardReaderEvents> implements CardReader {
  private nfc: NFC | undefined;
  private readonly readers = new Set<Reader>();
  /** The UID reported for the card on each reader, so removal names the same card. */
  private readonly cardOn = new Map<string, string>();
  private running = false;

  constructor(private readonly logger: Logger = createLogger('nfc')) {
    super();
  }

  async start(): Promise<void> {
    if (this.running) return;
    await assertPcscdReachable(pcscdSocketPath());
    // No logger for nfc-pcsc: its debug output carries raw UIDs and APDUs, which must not reach logs.
    const nfc = new NFC();
    nfc.on('reader', (reader) => this.attach(reader));
    nfc.on('error', (error) => this.report(explain(error, null)));
    this.nfc = nfc;
    this.running = true;
  }

  /** Releases the PC/SC context and reader threads so the process can exit. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // Handlers stay attached: closing makes pcsclite emit "Command cancelled", which must find a listener.
    this.nfc?.close();
    await Promise.all([...this.readers].map(settleDisconnect));
    for (const reader of this.readers) reader.close();
    this.readers.clear();
    this.cardOn.clear();
    this.nfc = undefined;
  }

  private attach(reader: Reader): void {
    const readerName = reader.name;
    this.readers.add(reader);
    // reader.autoProcessing stays true: that is what makes nfc-pcsc send GET DATA and report the UID.
    reader.on('card', (card) => this.onCard(card, readerName));
    reader.on('card.off', () => this.onCardOff(readerName));
    reader.on('error', (error) => this.report(explain(error, readerName)));
    reader.on('end', () => {
      this.readers.delete(reader);
      this.cardOn.delete(readerName);
      if (!this.running) return;
      this.logger.warn({ reader: readerName }, 'reader disconnected');
      this.emit('reader-disconnected', { readerName });
    });
    this.logger.info({ reader: readerName }, 'reader connected');
    this.emit('reader-connected', { readerName });
  }

  private onCard(card: Card, readerName: string): void {
    if (!this.running) return;
    let uid: string;
    try {
      uid = normalizeCardUid(card.uid ?? '');
    } catch (error) {
      if (!(error instanceof InvalidCardError)) throw error;
      this.report(new CardReaderError(`card UID is not 4, 7 or 10 bytes; not a member card`, readerName, { cause: error }));
      return;
    }
    this.cardOn.set(readerName, uid);
    this.logger.info({ card: maskCardUid(uid), reader: readerName }, 'card tapped');
    this.emit('card', { uid, readerName });
  }

  private onCardOff(readerName: string): void {
    if (!this.running) return;
    const uid = this.cardOn.get(readerName) ?? null;
    this.cardOn.delete(readerName);
    this.emit('card-removed', { uid, readerName });
  }

  private report(error: CardReaderError): void {
    if (!this.running) return;
    this.logger.warn({ reader: error.readerName, err: error.message }, 'card reader error');
    // An 'error' event without a listener would throw and end the process; the log line is enough then.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
