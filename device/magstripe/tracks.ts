/**
 * ISO/IEC 7813 financial-card tracks as readers deliver them, in ASCII with sentinels:
 *   track 1 (IATA, 6-bit + parity): %B<PAN ≤19>^<NAME>^<YYMM><service code><discretionary>?
 *   track 2 (ABA, 4-bit + parity):  ;<PAN ≤19>=<YYMM><service code><discretionary>?
 * optionally followed by the LRC character, which most readers check and drop.
 */
export interface TrackData {
  pan: string;
  /** Track 1 only: "SURNAME/GIVEN" as encoded. */
  name?: string;
  /** YYMM as encoded (not validated as a date: member cards may carry 0000). */
  expiry: string;
  serviceCode: string;
}

export class TrackFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrackFormatError';
  }
}

/** Character sets: track 1 codes 0x20–0x5F carry 6 data bits, track 2 codes 0x30–0x3F carry 4. */
const TRACK_CHARSET = {
  1: { offset: 0x20, bits: 6 },
  2: { offset: 0x30, bits: 4 },
} as const;

export type TrackNumber = keyof typeof TRACK_CHARSET;

/** True for a character that can be encoded on the track at all. */
export function isTrackCharacter(track: TrackNumber, char: string): boolean {
  const { offset, bits } = TRACK_CHARSET[track];
  const code = char.charCodeAt(0);
  return char.length === 1 && code >= offset && code < offset + (1 << bits);
}

/**
 * The LRC character for a track, start sentinel through end sentinel: XOR of every character's data
 * bits (parity excluded); its own parity bit would make it odd, but in ASCII only the data bits show.
 */
export function trackLrc(track: TrackNumber, text: string): string {
  const { offset } = TRACK_CHARSET[track];
  let lrc = 0;
  for (const char of text) {
    if (!isTrackCharacter(track, char)) throw new TrackFormatError(`character not encodable on track ${track}`);
    lrc ^= char.charCodeAt(0) - offset;
  }
  return String.fromCharCode(lrc + offset);
}

const TRACK1 = /^%B(\d{1,19})\^([^^]{0,26})\^(\d{4})(\d{3})[^?]*\?(.?)$/;
const TRACK2 = /^;(\d{1,19})=(\d{4})(\d{3})[^?]*\?(.?)$/;

export function parseTrack1(text: string): TrackData {
  const match = TRACK1.exec(text);
  if (!match) throw new TrackFormatError('track 1 is not %B<PAN>^<NAME>^<YYMM><service code>…?');
  const [, pan = '', name = '', expiry = '', serviceCode = '', lrc = ''] = match;
  checkLrc(1, text, lrc);
  return { pan, name: name.trim(), expiry, serviceCode };
}

export function parseTrack2(text: string): TrackData {
  const match = TRACK2.exec(text);
  if (!match) throw new TrackFormatError('track 2 is not ;<PAN>=<YYMM><service code>…?');
  const [, pan = '', expiry = '', serviceCode = '', lrc = ''] = match;
  checkLrc(2, text, lrc);
  return { pan, expiry, serviceCode };
}

function checkLrc(track: TrackNumber, text: string, lrc: string): void {
  if (lrc === '') return;
  const expected = trackLrc(track, text.slice(0, -1));
  if (lrc !== expected) throw new TrackFormatError(`track ${track} LRC does not match`);
}
