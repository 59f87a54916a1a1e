import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseTrack1, parseTrack2, trackLrc } from '../../device/magstripe/tracks.ts';
import { MAGTEK_REPORT_LENGTH, parseMagtekReport } from '../../device/magstripe/magtek-report.ts';
import { KeyboardWedgeParser, type WedgeTimers } from '../../device/magstripe/keyboard-wedge.ts';
import { MagstripeReader } from '../../device/magstripe/magstripe-reader.ts';
import type { MagstripeSwipe, SwipeError, SwipeTracks } from '../../device/magstripe/swipe.ts';

const TRACK1 = '%B1234567890123456^DOE/JOHN^2512101000000000000?';
const TRACK2 = ';1234567890123456=25121010000000000?';
const SWIPE_AGAIN = { zh: '请重新刷卡', en: 'Please swipe again' };

/** A MagTek swipe report byte for byte: status ×3, length ×3, encode type, then three 110-byte fields. */
function magtekReport(tracks: Partial<SwipeTracks>, failedTracks: number[] = []): Buffer {
  const report = Buffer.alloc(MAGTEK_REPORT_LENGTH);
  [tracks.track1, tracks.track2, tracks.track3].forEach((text, index) => {
    if (failedTracks.includes(index + 1)) report[index] = 0x01;
    if (!text) return;
    report[3 + index] = text.length;
    report.write(text, 7 + 110 * index, 'latin1');
  });
  return report;
}

/** node-hid's HID as the adapter sees it: reports arrive as 'data'. */
class FakeHid extends EventEmitter {
  closed = false;
  close(): void {
    this.closed = true;
  }
}

function reader(): { device: FakeHid; magstripe: MagstripeReader; events: Array<MagstripeSwipe | SwipeError> } {
  const device = new FakeHid();
  const magstripe = new MagstripeReader(device);
  const events: Array<MagstripeSwipe | SwipeError> = [];
  magstripe.on('swipe', (swipe) => events.push(swipe));
  magstripe.on('swipe-error', (error) => events.push(error));
  return { device, magstripe, events };
}

describe('ISO 7813 tracks', () => {
  it('computes the LRCs of the reference vectors', () => {
    expect(trackLrc(2, TRACK2)).toBe(';');
    expect(trackLrc(1, TRACK1)).toBe('(');
  });

  it('parses both tracks, with or without the LRC, and checks it when present', () => {
    expect(parseTrack2(TRACK2)).toEqual({ pan: '1234567890123456', expiry: '2512', serviceCode: '101' });
    expect(parseTrack2(`${TRACK2};`)).toEqual(parseTrack2(TRACK2));
    expect(parseTrack1(`${TRACK1}(`)).toEqual({ pan: '1234567890123456', name: 'DOE/JOHN', expiry: '2512', serviceCode: '101' });
    expect(() => parseTrack2(`${TRACK2}0`)).toThrow(/LRC/);
    expect(() => parseTrack1(`${TRACK1})`)).toThrow(/LRC/);
  });

  it.each([
    ['no start sentinel', '1234567890123456=25121010000000000?'],
    ['no end sentinel', ';1234567890123456=2512101000'],
    ['no separator', ';123456789012345625121010000000000?'],
    ['PAN too long', ';12345678901234567890=2512101?'],
  ])('refuses track 2 with %s', (_name, text) => {
    expect(() => parseTrack2(text)).toThrow(/track 2 is not/);
  });
});

describe('MagstripeReader on MagTek HID reports', () => {
  it('emits the card number from a good swipe, never able to spend stored value', () => {
    const { device, events, magstripe } = reader();
    device.emit('data', magtekReport({ track1: TRACK1, track2: TRACK2 }));
    expect(events).toEqual([{
      method: 'magstripe', cardNumber: '1234567890123456', canSpendStoredValue: false,
      tracks: { track1: TRACK1, track2: TRACK2, track3: null },
    }]);
    expect(magstripe.health()).toMatchObject({ kind: 'magstripe-reader', present: true, ready: true, counters: { swipes: 1 } });
  });

  it('uses track 1 when track 2 has its error bit set', () => {
    const { device, events } = reader();
    device.emit('data', magtekReport({ track1: TRACK1, track2: ';E?' }, [2]));
    expect(events).toMatchObject([{ cardNumber: '1234567890123456', tracks: { track2: null } }]);
  });

  it('asks to swipe again when every track failed, or the report is truncated or over-long', () => {
    const { device, events, magstripe } = reader();
    device.emit('data', magtekReport({}, [1, 2, 3]));
    device.emit('data', magtekReport({ track2: TRACK2 }).subarray(0, 200));
    const overLong = magtekReport({ track2: TRACK2 });
    overLong[4] = 111;
    device.emit('data', overLong);
    expect(events).toEqual([
      { reason: 'unreadable', message: SWIPE_AGAIN, detail: expect.stringMatching(/decode error on track 1, 2, 3/) },
      { reason: 'bad-report', message: SWIPE_AGAIN, detail: 'swipe report is 200 bytes, expected 337' },
      { reason: 'bad-report', message: SWIPE_AGAIN, detail: 'track 2 length 111 exceeds 110' },
    ]);
    expect(magstripe.health().counters).toEqual({ swipeErrors: 3 });
  });

  it('refuses tracks whose numbers disagree', () => {
    const { device, events } = reader();
    device.emit('data', magtekReport({ track1: TRACK1, track2: ';9999567890123456=25121010000000000?' }));
    expect(events).toMatchObject([{ reason: 'unreadable', detail: 'track 1 and track 2 card numbers differ' }]);
  });

  it('turns a device error (unplugged) into a health fault, and close() closes the device', () => {
    const { device, magstripe } = reader();
    device.emit('error', new Error('could not read from HID device'));
    expect(magstripe.health()).toMatchObject({ present: false, ready: false, fault: { code: 'unreachable' } });
    magstripe.close();
    expect(device.closed).toBe(true);
  });

  it('never throws out of the adapter for random or truncated reports', () => {
    const { device, events } = reader();
    const valid = magtekReport({ track1: TRACK1, track2: TRACK2 });
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
        fc.uint8Array({ minLength: MAGTEK_REPORT_LENGTH, maxLength: MAGTEK_REPORT_LENGTH }).map((bytes) => Buffer.from(bytes)),
        fc.nat(MAGTEK_REPORT_LENGTH).map((length) => valid.subarray(0, length)),
      ),
      (report) => {
        events.length = 0;
        device.emit('data', report);
        expect(events).toHaveLength(1);
      },
    ), { numRuns: 1000 });
  });

  it('parses the report layout by itself', () => {
    expect(parseMagtekReport(magtekReport({ track2: TRACK2, track3: '+E?' }, [3]))).toEqual({
      tracks: { track1: null, track2: TRACK2, track3: null }, failedTracks: [3], encodeType: 0,
    });
  });
});

/** Timers the test fires by hand: the partial-swipe timeout without sleeping. */
class ManualTimers implements WedgeTimers {
  private pending: { callback: () => void; ms: number } | undefined;
  setTimeout(callback: () => void, ms: number): unknown {
    this.pending = { callback, ms };
    return this.pending;
  }
  clearTimeout(handle: unknown): void {
    if (handle === this.pending) this.pending = undefined;
  }
  fire(): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.callback();
  }
  get armed(): boolean {
    return this.pending !== undefined;
  }
}

function wedge(): { parser: KeyboardWedgeParser; timers: ManualTimers; events: Array<MagstripeSwipe | SwipeError> } {
  const timers = new ManualTimers();
  const parser = new KeyboardWedgeParser({ timers });
  const events: Array<MagstripeSwipe | SwipeError> = [];
  parser.on('swipe', (swipe) => events.push(swipe));
  parser.on('swipe-error', (error) => events.push(error));
  return { parser, timers, events };
}

describe('KeyboardWedgeParser', () => {
  it('reads %T1?;T2?+T3? then Enter', () => {
    const { parser, events, timers } = wedge();
    parser.push(`${TRACK1}${TRACK2}+E?\r`);
    expect(events).toEqual([{ method: 'magstripe', cardNumber: '1234567890123456', canSpendStoredValue: false, tracks: { track1: TRACK1, track2: TRACK2, track3: null } }]);
    expect(timers.armed).toBe(false);
  });

  it('ignores keys typed outside a swipe and drops keys that cannot be on the track', () => {
    const { parser, events } = wedge();
    parser.push('hello\n');
    parser.push('ab%B1234567890123456^DOE/JOHN^2512101000000000000?;1234567890123456=2512x1010000000000?\n');
    expect(events).toMatchObject([{ cardNumber: '1234567890123456' }]);
  });

  it('treats %E? as a failed track and asks to swipe again when no track read', () => {
    const { parser, events } = wedge();
    parser.push('%E?;E?+E?\n');
    expect(events).toEqual([{ reason: 'unreadable', message: SWIPE_AGAIN, detail: 'no track 1 or 2 data' }]);
  });

  it('gives up on a swipe with no Enter when the idle timer fires, then reads the next one', () => {
    const { parser, events, timers } = wedge();
    parser.push('%B12345678');
    expect(events).toEqual([]);
    timers.fire();
    expect(events).toEqual([{ reason: 'partial', message: SWIPE_AGAIN, detail: 'no Enter within 500 ms' }]);
    parser.push(`${TRACK2}\n`);
    expect(events[1]).toMatchObject({ cardNumber: '1234567890123456' });
  });

  it('calls Enter in the middle of a track a partial swipe', () => {
    const { parser, events } = wedge();
    parser.push(';12345678\n');
    expect(events).toEqual([{ reason: 'partial', message: SWIPE_AGAIN, detail: 'Enter before the end sentinel' }]);
  });

  it('never throws for any keystrokes, and every swipe is answered once Enter or the timeout comes', () => {
    const keys = fc.string({ unit: fc.constantFrom(...'%;+?=^E/B0123456789 abc\n\r'.split('')), maxLength: 120 });
    fc.assert(fc.property(keys, (typed) => {
      const { parser, events, timers } = wedge();
      parser.push(typed);
      timers.fire();
      const swipes = [...typed].filter((key) => key === '\n' || key === '\r').length;
      expect(events.length).toBeLessThanOrEqual(swipes + 1);
    }), { numRuns: 1000 });
  });
});
