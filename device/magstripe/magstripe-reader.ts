import { EventEmitter } from 'node:events';
import { maskCardNumber } from '../../shared/card.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import type { PeripheralHealth } from '../health/peripheral-health.ts';
import { ReaderHealth } from '../nfc/reader-health.ts';
import { MagtekReportError, parseMagtekReport } from './magtek-report.ts';
import { swipeError, swipeFromTracks, type MagstripeSwipe, type SwipeError } from './swipe.ts';

/** The part of node-hid's `HID` the reader uses: input reports as 'data', failures as 'error'. */
export interface HidDeviceLike {
  on(event: 'data', listener: (report: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

export interface MagstripeReaderEvents {
  swipe: [MagstripeSwipe];
  'swipe-error': [SwipeError];
  health: [PeripheralHealth];
}

/**
 * A MagTek-style USB HID swipe reader: one input report per swipe, turned into `swipe` (the member's
 * card number, never enough to spend stored value) or `swipe-error` ("请重新刷卡 / Please swipe again").
 * A device error (unplugged) is a health fault; nothing here throws out of an event handler.
 */
export class MagstripeReader extends EventEmitter<MagstripeReaderEvents> {
  private readonly healthState: ReaderHealth;

  constructor(
    private readonly device: HidDeviceLike,
    name = 'MagTek USB HID',
    private readonly logger: Logger = createLogger('magstripe'),
  ) {
    super();
    this.healthState = new ReaderHealth('magstripe-reader', name);
    this.healthState.on('change', (health) => this.emit('health', health));
    this.healthState.presence(true);
    device.on('data', (report) => this.onReport(report));
    device.on('error', (error) => {
      this.logger.warn({ err: error.message }, 'magstripe reader failed');
      this.healthState.error(error.message);
      this.healthState.fault('unreachable', `magstripe reader failed: ${error.message}`);
      this.healthState.presence(false);
    });
  }

  health(): PeripheralHealth {
    return this.healthState.snapshot();
  }

  close(): void {
    this.device.close();
    this.healthState.presence(false);
  }

  private onReport(report: Buffer): void {
    let result: MagstripeSwipe | SwipeError;
    try {
      const parsed = parseMagtekReport(report);
      result = swipeFromTracks(parsed.tracks);
      if ('detail' in result && parsed.failedTracks.length > 0) {
        result = swipeError('unreadable', `decode error on track ${parsed.failedTracks.join(', ')}; ${result.detail}`);
      }
    } catch (error) {
      if (!(error instanceof MagtekReportError)) throw error;
      result = swipeError('bad-report', error.message);
    }
    if ('cardNumber' in result) {
      this.healthState.count('swipes');
      this.logger.info({ cardNumber: maskCardNumber(result.cardNumber) }, 'card swiped');
      this.emit('swipe', result);
    } else {
      this.healthState.count('swipeErrors');
      this.logger.info({ reason: result.reason, detail: result.detail }, 'swipe not read');
      this.emit('swipe-error', result);
    }
  }
}
