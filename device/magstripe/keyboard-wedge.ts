import { EventEmitter } from 'node:events';
import { swipeError, swipeFromTracks, type MagstripeSwipe, type SwipeError, type SwipeTracks } from './swipe.ts';
import { isTrackCharacter } from './tracks.ts';

/** What the parser needs from timers; injected so tests drive the partial-swipe timeout without sleeping. */
export interface WedgeTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface KeyboardWedgeOptions {
  /** A swipe with no key for this long is abandoned as partial. Wedges type a whole swipe in ~100 ms. */
  idleTimeoutMs?: number;
  timers?: WedgeTimers;
}

/** Start sentinel of each track as a wedge types it: %T1? ;T2? +T3?. */
const START_SENTINELS: Record<string, 1 | 2 | 3> = { '%': 1, ';': 2, '+': 3 };
const END_SENTINEL = '?';
/** A track the reader could not decode is typed as just E between its sentinels. */
const FAILED_TRACK = 'E';

/**
 * Reassembles swipes from a keyboard-wedge reader's keystrokes: `%T1?;T2?+T3?` then Enter. Keys from
 * another keyboard may arrive in between: outside a swipe they are ignored, inside one any key that
 * cannot be on the current track is dropped (if it could, the track fails its format check instead).
 * Emits `swipe` or `swipe-error`; never throws on any input.
 */
export class KeyboardWedgeParser extends EventEmitter<{ swipe: [MagstripeSwipe]; 'swipe-error': [SwipeError] }> {
  private tracks: SwipeTracks | null = null;
  /** The track being typed and its text so far (start sentinel included). */
  private current: { track: 1 | 2 | 3; text: string } | null = null;
  private timer: unknown;
  private readonly idleTimeoutMs: number;
  private readonly timers: WedgeTimers;

  constructor(options: KeyboardWedgeOptions = {}) {
    super();
    this.idleTimeoutMs = options.idleTimeoutMs ?? 500;
    this.timers = options.timers ?? { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) };
  }

  /** Feeds typed text; Enter is '\r' or '\n'. */
  push(keys: string): void {
    for (const key of keys) this.key(key);
  }

  private key(key: string): void {
    if (key === '\r' || key === '\n') {
      this.finish();
      return;
    }
    const startsTrack = START_SENTINELS[key];
    if (this.current === null) {
      if (startsTrack === undefined) return;
      this.tracks ??= { track1: null, track2: null, track3: null };
      this.current = { track: startsTrack, text: key };
    } else if (key === END_SENTINEL) {
      this.endTrack();
    } else if (this.current.text.length < 2 && key === FAILED_TRACK) {
      this.current.text += key;
    } else if (isTrackCharacter(this.current.track === 1 ? 1 : 2, key)) {
      // Track 3 uses track 2's character set (ISO 4909).
      this.current.text += key;
    }
    this.restartTimer();
  }

  private endTrack(): void {
    if (this.current === null || this.tracks === null) return;
    const { track, text } = this.current;
    this.current = null;
    const failed = text.length === 2 && text[1] === FAILED_TRACK;
    this.tracks[`track${track}`] = failed ? null : `${text}${END_SENTINEL}`;
  }

  private finish(): void {
    if (this.tracks === null) return;
    const tracks = this.tracks;
    const unterminated = this.current !== null;
    this.reset();
    if (unterminated) this.emit('swipe-error', swipeError('partial', 'Enter before the end sentinel'));
    else this.emitSwipe(swipeFromTracks(tracks));
  }

  private emitSwipe(result: MagstripeSwipe | SwipeError): void {
    if ('cardNumber' in result) this.emit('swipe', result);
    else this.emit('swipe-error', result);
  }

  private restartTimer(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.tracks === null) return;
      this.reset();
      this.emit('swipe-error', swipeError('partial', `no Enter within ${this.idleTimeoutMs} ms`));
    }, this.idleTimeoutMs);
  }

  private reset(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.tracks = null;
    this.current = null;
  }
}
