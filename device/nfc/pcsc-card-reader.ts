import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { NFC, TAG_ISO_14443_4, type Card, type Reader } from 'nfc-pcsc';
import { InvalidCardError, maskCardNumber, maskCardUid, normalizeCardUid } from '../../shared/card.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { Backoff, type BackoffOptions } from '../hardware/backoff.ts';
import type { PeripheralHealth } from '../health/peripheral-health.ts';
import { CardStatusError, NoCardResponseError } from './apdu.ts';
import { identifyByRecord, refusal } from './card-identification.ts';
import { CardReaderError, type CardReader, type CardReaderEvents, type CardTap } from './card-reader.ts';
import type { MemberCardConfig } from './member-card-config.ts';
import { readStorageRecord, readUid, type Transmit } from './member-card-reading.ts';
import { ReaderHealth } from './reader-health.ts';

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

/**
 * What clients see when pcscd dies: SCARD_E_NO_SERVICE or SCARD_F_COMM_ERROR ("RPC transport error"); and, from a
 * reader's pending status wait, sometimes SCARD_W_SECURITY_VIOLATION ("Access denied", 0x8010006A) just before
 * the transport error, as pcscd stops (seen once in the restart test of nfc-member-card.test.ts). pcscd refuses
 * access for good only when a client establishes its context (polkit), never in the middle of a wait.
 */
const DAEMON_LOST = /0x8010001D|0x80100013|SCardGetStatusChange error: .*0x8010006A/i;

const NOT_A_MEMBER_CARD = 'this card cannot be read here: it is an ISO 14443-4 card (a phone, bank or transit card?), not a member card';

/** Turns nfc-pcsc's and pcsclite's messages into ones a technician (or the kiosk UI log) can act on. */
function explain(error: Error, readerName: string | null): CardReaderError {
  const text = error.message;
  let message = `NFC reader error: ${text}`;
  // Without an AID nfc-pcsc refuses ISO 14443-4 cards; with ours, other cards answer SELECT with an error.
  if (/AID was not set|Tag not compatible with AID|Response status error/.test(text)) {
    message = NOT_A_MEMBER_CARD;
  } else if (error.name === 'GetUIDError' || (error instanceof CardStatusError && error.command === 'GET DATA')) {
    message = `could not read the card's UID (${text}); hold the card still and tap again`;
  } else if (error instanceof InvalidCardError) {
    message = 'card UID is not 4, 7 or 10 bytes; not a member card';
  } else if (DAEMON_LOST.test(text)) {
    message = `lost the PC/SC daemon (pcscd) (${text}); restart it`;
  }
  return new CardReaderError(message, readerName, { cause: error });
}

/** nfc-pcsc keeps the pcsclite error it wrapped in `previous`; its own message is only "An error occurred…". */
function rootMessage(error: unknown): string {
  const previous = (error as { previous?: unknown }).previous;
  return previous instanceof Error ? previous.message : (error as Error).message;
}

/**
 * hardware.md: a card already on the reader when the kiosk starts can fail SCardConnect (0x8010002F) on
 * some readers. nfc-pcsc then drops the card without a word (it emits the error under the error object
 * as event name), and the member's tap is lost until the card is lifted. Retrying the connect while the
 * card is still there recovers it; a final failure is reported instead of swallowed.
 */
const CONNECT_ATTEMPTS = 3;
const CONNECT_RETRY_MS = 100;

export interface PcscCardReaderOptions {
  /** The chain's card secrets. Without them no record is read and every card is 'uid-only'. */
  memberCard?: MemberCardConfig;
  /** Delays between attempts to reach pcscd again after it went away. */
  reconnect?: BackoffOptions;
}

/**
 * NFC readers through pcscd (PC/SC) with nfc-pcsc: the UID, then the member record — NTAG pages, a MIFARE
 * Classic sector after key authentication, or the SELECT response of an ISO 14443-4 card with the
 * chain's AID — verified before the `card` event. Survives pcscd restarts by reconnecting with backoff.
 */
export class PcscCardReader extends EventEmitter<CardReaderEvents> implements CardReader {
  private nfc: NFC | undefined;
  private readonly readers = new Set<Reader>();
  /** The UID reported for the card on each reader, so removal names the same card. */
  private readonly cardOn = new Map<string, string>();
  /** Cards that have left each reader so far: a read that started before a removal is stale. */
  private readonly removals = new Map<string, number>();
  private readonly healthState = new ReaderHealth('nfc-reader', 'PC/SC');
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private running = false;
  /** From a detected pcscd loss until it is reachable again. */
  private daemonDown = false;

  constructor(
    private readonly logger: Logger = createLogger('nfc'),
    private readonly options: PcscCardReaderOptions = {},
  ) {
    super();
    this.backoff = new Backoff(options.reconnect);
    this.healthState.on('change', (health) => this.emit('health', health));
  }

  health(): PeripheralHealth {
    return this.healthState.snapshot();
  }

  async start(): Promise<void> {
    if (this.running) return;
    try {
      await assertPcscdReachable(pcscdSocketPath());
    } catch (error) {
      this.healthState.fault('unreachable', (error as Error).message);
      throw error;
    }
    this.running = true;
    this.open();
  }

  /** Releases the PC/SC context and reader threads so the process can exit. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.reconnectTimer);
    await this.close();
  }

  private open(): void {
    // No logger for nfc-pcsc: its debug output carries raw UIDs and APDUs, which must not reach logs.
    const nfc = new NFC();
    nfc.on('reader', (reader) => this.attach(reader));
    nfc.on('error', (error) => this.onError(error, null));
    this.nfc = nfc;
    this.healthState.clearFault();
  }

  /** Closes the PC/SC context and its readers; returns the readers that were open. */
  private async close(): Promise<Reader[]> {
    // Handlers stay attached: closing makes pcsclite emit "Command cancelled", which must find a listener.
    this.nfc?.close();
    this.nfc = undefined;
    const readers = [...this.readers];
    // Emptied first, so the readers' own 'end' events are not reported as unplugged readers.
    this.readers.clear();
    this.cardOn.clear();
    await Promise.all(readers.map(settleDisconnect));
    for (const reader of readers) reader.close();
    return readers;
  }

  private onError(error: Error, readerName: string | null): void {
    // The context and every reader report a lost daemon at once; daemonLost handles the first of them.
    if (DAEMON_LOST.test(error.message)) return void this.daemonLost(explain(error, null));
    // Once the daemon is gone, its readers' threads fail in other ways too (e.g. "Access denied" while the
    // context is torn down): aftershocks of the one loss already reported, not new faults.
    if (this.daemonDown) return void this.logger.debug({ reader: readerName, err: error.message }, 'reader error after pcscd was lost');
    this.report(explain(error, readerName));
  }

  /** pcscd went away (stopped, crashed, upgraded): drop its readers and dial it again until it is back. */
  private async daemonLost(error: CardReaderError): Promise<void> {
    if (!this.running || this.nfc === undefined) return;
    this.daemonDown = true;
    this.report(error);
    this.healthState.fault('pcscd-lost', error.message);
    for (const reader of await this.close()) this.readerGone(reader.name);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.reconnectTimer = setTimeout(() => {
      assertPcscdReachable(pcscdSocketPath()).then(() => {
        if (!this.running) return;
        this.backoff.reset();
        this.healthState.count('reconnects');
        this.logger.info('PC/SC daemon is back');
        this.daemonDown = false;
        this.open();
      }, () => this.scheduleReconnect());
    }, this.backoff.nextDelayMs());
  }

  private attach(reader: Reader): void {
    const readerName = reader.name;
    this.readers.add(reader);
    if (this.options.memberCard) reader.aid = this.options.memberCard.aid;
    this.retryConnect(reader);
    // reader.autoProcessing stays true: nfc-pcsc reads the UID (ISO 14443-3) or SELECTs reader.aid
    // (ISO 14443-4) before it emits `card`, and reports failures of those as `error`.
    reader.on('card', (card) => void this.onCard(reader, card));
    reader.on('card.off', () => this.onCardOff(readerName));
    reader.on('error', (error) => this.onError(error, readerName));
    reader.on('end', () => {
      // Readers we closed ourselves (stop, daemonLost) are no longer in the set.
      if (!this.readers.delete(reader)) return;
      this.readerGone(readerName);
    });
    this.logger.info({ reader: readerName }, 'reader connected');
    this.healthState.presence(true, readerName);
    this.emit('reader-connected', { readerName });
  }

  private readerGone(readerName: string): void {
    this.cardOn.delete(readerName);
    if (!this.running) return;
    this.healthState.presence(this.readers.size > 0);
    this.logger.warn({ reader: readerName }, 'reader disconnected');
    this.emit('reader-disconnected', { readerName });
  }

  private retryConnect(reader: Reader): void {
    const connectOnce = reader.connect.bind(reader);
    reader.connect = async (mode?: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await connectOnce(mode);
        } catch (error) {
          if (attempt < CONNECT_ATTEMPTS && reader.card !== null) {
            await delay(CONNECT_RETRY_MS);
            continue;
          }
          this.report(new CardReaderError(`could not connect to the card (${rootMessage(error)}); lift it and tap again`, reader.name, { cause: error }));
          throw error;
        }
      }
    };
  }

  private removalsOn(readerName: string): number {
    return this.removals.get(readerName) ?? 0;
  }

  private async onCard(reader: Reader, card: Card): Promise<void> {
    if (!this.running) return;
    const readerName = reader.name;
    const removalsBefore = this.removalsOn(readerName);
    const cardLeft = () => this.removalsOn(readerName) !== removalsBefore || reader.card === null;
    let tap: CardTap;
    try {
      tap = await this.identify(reader, card);
    } catch (error) {
      this.healthState.count('readErrors');
      const gone = cardLeft() || error instanceof NoCardResponseError;
      this.report(gone ? removedMidRead(readerName, error) : explain(error as Error, readerName));
      return;
    }
    // The card-removed event is already out: a card event now would describe a card that is not there.
    if (cardLeft()) {
      this.healthState.count('readErrors');
      this.report(removedMidRead(readerName, undefined));
      return;
    }
    this.cardOn.set(readerName, tap.uid);
    this.healthState.count(`cards.${tap.verification ?? 'uid-only'}`);
    this.logger.info({
      card: maskCardUid(tap.uid),
      reader: readerName,
      verification: tap.verification,
      cardNumber: tap.cardNumber === undefined ? undefined : maskCardNumber(tap.cardNumber),
      refusal: tap.refusal?.code,
    }, 'card tapped');
    this.emit('card', tap);
  }

  private async identify(reader: Reader, card: Card): Promise<CardTap> {
    const transmit: Transmit = (apdu, maxResponseLength) => reader.transmit(apdu, maxResponseLength);
    const readerName = reader.name;
    // nfc-pcsc reads the UID of storage cards itself; ISO 14443-4 cards are asked after the SELECT.
    const uid = normalizeCardUid(card.uid ?? (await readUid(transmit)).toString('hex'));
    const config = this.options.memberCard;
    if (!config) return { uid, readerName, verification: 'uid-only' };
    try {
      const record = card.standard === TAG_ISO_14443_4 ? card.data ?? Buffer.alloc(0) : await readStorageRecord(card.atr, transmit, config);
      return { uid, readerName, ...identifyByRecord(uid, record, config.cardKey) };
    } catch (error) {
      // A card that answers with an error status is there and will answer the same next time: refuse it.
      if (!(error instanceof CardStatusError)) throw error;
      this.logger.warn({ card: maskCardUid(uid), reader: readerName, err: error.message }, 'card refused a command');
      return { uid, readerName, ...refusal(error.command === 'AUTHENTICATE' ? 'card-key-rejected' : 'card-unreadable') };
    }
  }

  private onCardOff(readerName: string): void {
    this.removals.set(readerName, this.removalsOn(readerName) + 1);
    if (!this.running) return;
    const uid = this.cardOn.get(readerName) ?? null;
    this.cardOn.delete(readerName);
    this.emit('card-removed', { uid, readerName });
  }

  private report(error: CardReaderError): void {
    if (!this.running) return;
    this.healthState.error(error.message);
    this.logger.warn({ reader: error.readerName, err: error.message }, 'card reader error');
    // An 'error' event without a listener would throw and end the process; the log line is enough then.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

function removedMidRead(readerName: string, cause: unknown): CardReaderError {
  return new CardReaderError('the card was taken away before it was read; tap again and hold it still', readerName, { cause });
}
