import { parseTrack1, parseTrack2, TrackFormatError, type TrackData } from './tracks.ts';

/** The three tracks of one swipe as read (sentinels included); null = not read or read with an error. */
export interface SwipeTracks {
  track1: string | null;
  track2: string | null;
  track3: string | null;
}

/**
 * A member identified by swiping. Stripes are trivially copied, so a swipe identifies but never
 * authorises spending stored value without a PIN: `canSpendStoredValue` is always false, for the kiosk
 * to enforce.
 */
export interface MagstripeSwipe {
  method: 'magstripe';
  /** The PAN (the member card number). Mask it (maskCardNumber) in logs. */
  cardNumber: string;
  canSpendStoredValue: false;
  tracks: SwipeTracks;
}

export type SwipeErrorReason = 'unreadable' | 'partial' | 'bad-report';

export interface SwipeError {
  reason: SwipeErrorReason;
  message: { zh: string; en: string };
  /** For the technician log; never contains track data. */
  detail: string;
}

const SWIPE_AGAIN = { zh: '请重新刷卡', en: 'Please swipe again' } as const;

export function swipeError(reason: SwipeErrorReason, detail: string): SwipeError {
  return { reason, message: { ...SWIPE_AGAIN }, detail };
}

/**
 * The member's card number from whatever tracks read cleanly: track 2 first (what ISO 7813 readers and
 * POS systems key on), track 1 when track 2 failed. Both present must agree.
 */
export function swipeFromTracks(tracks: SwipeTracks): MagstripeSwipe | SwipeError {
  const parsed: TrackData[] = [];
  const problems: string[] = [];
  for (const [text, parse] of [[tracks.track2, parseTrack2], [tracks.track1, parseTrack1]] as const) {
    if (text === null) continue;
    try {
      parsed.push(parse(text));
    } catch (error) {
      if (!(error instanceof TrackFormatError)) throw error;
      problems.push(error.message);
    }
  }
  const [first, second] = parsed;
  if (first === undefined) return swipeError('unreadable', problems.join('; ') || 'no track 1 or 2 data');
  if (second !== undefined && second.pan !== first.pan) return swipeError('unreadable', 'track 1 and track 2 card numbers differ');
  return { method: 'magstripe', cardNumber: first.pan, canSpendStoredValue: false, tracks };
}
