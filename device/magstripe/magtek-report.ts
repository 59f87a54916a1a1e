import type { SwipeTracks } from './swipe.ts';

/**
 * One MagTek USB HID swipe report (vendor 0x0801, usage page 0xFF00): 337 bytes, no report id.
 *   0–2  decode status of tracks 1–3 (bit 0 set = error)
 *   3–5  track 1–3 data lengths
 *   6    card encode type (0 = ISO/ABA)
 *   7–116, 117–226, 227–336  track 1, 2, 3 ASCII data, sentinels included
 */
export const MAGTEK_REPORT_LENGTH = 337;
const TRACK_OFFSETS = [7, 117, 227] as const;
const TRACK_CAPACITY = 110;

export interface MagtekReport {
  /** null for a track with its error bit set or nothing on it. */
  tracks: SwipeTracks;
  /** Tracks whose decode status reported an error (1-based). */
  failedTracks: number[];
  encodeType: number;
}

export class MagtekReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MagtekReportError';
  }
}

export function parseMagtekReport(report: Buffer): MagtekReport {
  if (report.length !== MAGTEK_REPORT_LENGTH) {
    throw new MagtekReportError(`swipe report is ${report.length} bytes, expected ${MAGTEK_REPORT_LENGTH}`);
  }
  const failedTracks: number[] = [];
  const texts = TRACK_OFFSETS.map((offset, index) => {
    const status = report[index] ?? 0;
    const length = report[3 + index] ?? 0;
    if ((status & 0x01) !== 0) {
      failedTracks.push(index + 1);
      return null;
    }
    if (length > TRACK_CAPACITY) throw new MagtekReportError(`track ${index + 1} length ${length} exceeds ${TRACK_CAPACITY}`);
    return length === 0 ? null : report.toString('latin1', offset, offset + length);
  });
  const [track1 = null, track2 = null, track3 = null] = texts;
  return { tracks: { track1, track2, track3 }, failedTracks, encodeType: report[6] ?? 0 };
}
