import { EventEmitter } from 'node:events';
import { Backoff } from './backoff.ts';

/** An open device and a promise that settles with the reason once it is gone (closed, ENXIO, EIO, …). */
export interface DeviceSession<T> {
  handle: T;
  lost: Promise<Error>;
}

export interface ReconnectingDeviceOptions<T> {
  /** Opens the device; rejects when it is not there (ENOENT, ECONNREFUSED, …). */
  connect: () => Promise<DeviceSession<T>>;
  /** Lets go of a handle when stopping. */
  disconnect: (handle: T) => Promise<void>;
  backoff?: Backoff;
}

/**
 * Keeps a device open that can disappear — a USB-serial adapter unplugged, a printer switched off — and
 * reopens it with Backoff. 'up' with the handle each time it is open, 'down' with the reason each time it
 * is lost or an attempt fails, so health can follow.
 */
export class ReconnectingDevice<T> extends EventEmitter<{ up: [T]; down: [Error] }> {
  private session: DeviceSession<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly backoff: Backoff;

  constructor(private readonly options: ReconnectingDeviceOptions<T>) {
    super();
    this.backoff = options.backoff ?? new Backoff();
  }

  /** The open handle, if the device is up. */
  get handle(): T | undefined {
    return this.session?.handle;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const session = this.session;
    this.session = undefined;
    if (session) await this.options.disconnect(session.handle);
  }

  private async attempt(): Promise<void> {
    let session: DeviceSession<T>;
    try {
      session = await this.options.connect();
    } catch (error) {
      this.retryAfter(error as Error);
      return;
    }
    if (this.stopped) {
      await this.options.disconnect(session.handle);
      return;
    }
    this.session = session;
    this.backoff.reset();
    this.emit('up', session.handle);
    const reason = await session.lost;
    if (this.session !== session) return; // stopped meanwhile: a loss we caused ourselves
    this.session = undefined;
    this.retryAfter(reason);
  }

  private retryAfter(reason: Error): void {
    if (this.stopped) return;
    this.emit('down', reason);
    this.timer = setTimeout(() => void this.attempt(), this.backoff.nextDelayMs());
  }
}
