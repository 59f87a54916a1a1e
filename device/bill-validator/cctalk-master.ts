import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { CCTalkParser, SerialPort } from 'serialport';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { decodeFrame, encodeFrame, hex } from './cctalk-frame.ts';
import { HOST_ADDRESS, Header, headerLabel } from './cctalk-headers.ts';

export class CctalkError extends Error {
  constructor(message: string, readonly header: number, readonly address: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** No valid reply (silence, garbage or bad checksums) to any attempt. */
export class CctalkTimeoutError extends CctalkError {
  constructor(header: number, address: number, readonly attempts: number, timeoutMs: number) {
    super(`no valid reply from ccTalk address ${address} to header ${headerLabel(header)} after ${attempts} attempts of ${timeoutMs} ms`, header, address);
  }
}

/** The device refused the command (unknown header or bad data); repeating it will not help. */
export class CctalkNakError extends CctalkError {
  constructor(header: number, address: number) {
    super(`ccTalk address ${address} answered NAK to header ${headerLabel(header)}`, header, address);
  }
}

/** The device answered BUSY to every attempt. */
export class CctalkBusyError extends CctalkError {
  constructor(header: number, address: number, attempts: number) {
    super(`ccTalk address ${address} stayed BUSY for header ${headerLabel(header)} over ${attempts} attempts`, header, address);
  }
}

/** The port closed (unplugged, or close() called) before the request was answered. */
export class CctalkClosedError extends CctalkError {
  constructor(header: number, address: number) {
    super(`serial port closed before ccTalk address ${address} answered header ${headerLabel(header)}`, header, address);
  }
}

/** What the master needs from a port: a serialport stream (SerialPort, or SerialPortMock in tests). */
export interface CctalkPort extends Duplex {
  readonly isOpen: boolean;
  close(callback?: (error: Error | null) => void): void;
}

export interface CctalkMasterOptions {
  /** How long to wait for one reply; 9600 baud moves a 16-byte reply in ~17 ms, devices answer in < 100 ms. */
  timeoutMs?: number;
  /** Further attempts after the first, for silence, bad frames and BUSY. */
  retries?: number;
  /** The pause before asking a BUSY device again. */
  busyDelayMs?: number;
  logger?: Logger;
}

export interface CctalkMasterCounters {
  requests: number;
  retries: number;
  badFrames: number;
}

interface Pending {
  request: Buffer;
  address: number;
  echoSeen: boolean;
  settle: (outcome: AttemptOutcome) => void;
}

type AttemptOutcome = { header: number; data: Buffer } | 'timeout' | 'closed';

/**
 * The host end of a ccTalk bus: one request at a time (a promise queue), each reply matched to its
 * request by a "waitress" with a timeout. The bus is one shared wire, so the host reads back its own
 * request before the device answers; the master skips that echo, and once it has seen one it drops
 * anything that arrives before the echo (a late answer to an earlier attempt). Frames are split by
 * @serialport/parser-cctalk, which restarts after a 50 ms gap — that, plus a retry after the timeout, is
 * how the master gets back in step after garbage.
 */
export class CctalkMaster extends EventEmitter<{ close: [Error | null] }> {
  readonly counters: CctalkMasterCounters = { requests: 0, retries: 0, badFrames: 0 };
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly busyDelayMs: number;
  private readonly logger: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | null = null;
  private busEchoes = false;
  private closed = false;

  constructor(private readonly port: CctalkPort, options: CctalkMasterOptions = {}) {
    super();
    this.timeoutMs = options.timeoutMs ?? 300;
    this.retries = options.retries ?? 2;
    this.busyDelayMs = options.busyDelayMs ?? 50;
    this.logger = options.logger ?? createLogger('cctalk');
    port.pipe(new CCTalkParser()).on('data', (frame: Buffer) => this.onFrame(frame));
    // serialport emits 'close' with a disconnect error when the device goes away (ENXIO, EIO).
    port.on('close', (error?: Error | null) => this.markClosed(error ?? null));
    port.on('error', (error: Error) => {
      this.logger.warn({ err: error.message }, 'serial port error');
      this.markClosed(error);
    });
  }

  /**
   * Opens `path` at 9600 8N1 (ccTalk's line settings) and returns a master that owns the port. It first
   * listens for `settleMs`: what the line still carries from an earlier process (the answer to a request
   * it died during) arrives while no request is outstanding and is dropped, instead of answering ours.
   */
  static async open(path: string, options: CctalkMasterOptions & { baudRate?: number; settleMs?: number } = {}): Promise<CctalkMaster> {
    const port = new SerialPort({ path, baudRate: options.baudRate ?? 9600, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    const master = new CctalkMaster(port, options);
    await delay(options.settleMs ?? 50);
    return master;
  }

  get isOpen(): boolean {
    return !this.closed && this.port.isOpen;
  }

  /** Sends `header` to `address` and resolves with the reply's data bytes (empty for a plain ACK). */
  request(address: number, header: number, data: readonly number[] = []): Promise<Buffer> {
    const result = this.queue.then(() => this.exchange(address, header, data));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.markClosed(null);
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private async exchange(address: number, header: number, data: readonly number[]): Promise<Buffer> {
    const request = encodeFrame({ dest: address, src: HOST_ADDRESS, header, data });
    const attempts = this.retries + 1;
    let lastWasBusy = false;
    this.counters.requests += 1;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (this.closed) throw new CctalkClosedError(header, address);
      if (attempt > 1) this.counters.retries += 1;
      const reply = await this.attempt(request, address);
      if (reply === 'closed') throw new CctalkClosedError(header, address);
      lastWasBusy = reply !== 'timeout' && reply.header === Header.busy;
      if (reply === 'timeout') {
        this.logger.debug({ address, header, attempt }, 'no valid ccTalk reply');
      } else if (reply.header === Header.reply) {
        return reply.data;
      } else if (reply.header === Header.nak) {
        throw new CctalkNakError(header, address);
      } else if (lastWasBusy) {
        this.logger.debug({ address, header, attempt }, 'ccTalk device busy');
        await delay(this.busyDelayMs);
      } else {
        this.logger.debug({ address, header, attempt, replyHeader: reply.header }, 'ccTalk reply with an unexpected header');
      }
    }
    throw lastWasBusy ? new CctalkBusyError(header, address, attempts) : new CctalkTimeoutError(header, address, attempts, this.timeoutMs);
  }

  private attempt(request: Buffer, address: number): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle('timeout'), this.timeoutMs);
      const settle = (outcome: AttemptOutcome): void => {
        clearTimeout(timer);
        if (this.pending === pending) this.pending = null;
        resolve(outcome);
      };
      const pending: Pending = { request, address, echoSeen: false, settle };
      this.pending = pending;
      this.port.write(request, (error) => {
        if (error) {
          this.logger.warn({ err: error.message }, 'ccTalk write failed');
          settle('closed');
        }
      });
    });
  }

  private onFrame(bytes: Buffer): void {
    const pending = this.pending;
    if (!pending) {
      this.logger.debug({ bytes: hex(bytes) }, 'ccTalk frame with no request outstanding dropped');
      return;
    }
    if (!pending.echoSeen && bytes.equals(pending.request)) {
      pending.echoSeen = true;
      this.busEchoes = true;
      return;
    }
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) {
      this.counters.badFrames += 1;
      this.logger.debug({ bytes: hex(bytes), reason: decoded.reason, detail: decoded.detail }, 'bad ccTalk frame ignored');
      return;
    }
    const { frame } = decoded;
    if (frame.src === HOST_ADDRESS) {
      // Another request from the host: the echo of an earlier one, so the bus echoes and the reply
      // behind it answers that earlier request, not this one.
      this.busEchoes = true;
      this.logger.debug({ bytes: hex(bytes) }, 'echo of an earlier request ignored');
      return;
    }
    if (this.busEchoes && !pending.echoSeen) {
      this.logger.debug({ bytes: hex(bytes) }, 'ccTalk frame before our echo dropped (late reply to an earlier attempt)');
      return;
    }
    if (frame.dest !== HOST_ADDRESS || frame.src !== pending.address) {
      this.logger.debug({ bytes: hex(bytes) }, 'ccTalk frame for another conversation ignored');
      return;
    }
    pending.settle({ header: frame.header, data: frame.data });
  }

  private markClosed(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.pending?.settle('closed');
    this.emit('close', error);
  }
}
