/**
 * ccTalk frames with the simple 8-bit checksum: [dest][len][src][header][data × len][checksum], where
 * every byte of the frame sums to 0 mod 256. Decoding never throws: bytes from a serial line can be
 * anything, so a malformed frame is a result with a reason, not an exception.
 */
export interface CctalkFrame {
  dest: number;
  src: number;
  header: number;
  data: Buffer;
}

export type FrameDecodeFailure = 'truncated' | 'length-mismatch' | 'bad-checksum';

export type FrameDecodeResult =
  | { ok: true; frame: CctalkFrame }
  | { ok: false; reason: FrameDecodeFailure; detail: string };

/** dest, len, src, header and checksum: a frame without data is this long. */
export const FRAME_OVERHEAD = 5;

/** The byte that makes the sum of `bytes` plus itself 0 mod 256. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum += byte;
  return (256 - (sum % 256)) % 256;
}

function assertByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`ccTalk ${name} must be a byte, got ${value}`);
}

/** Throws only on a programming error (a field outside a byte, more than 255 data bytes). */
export function encodeFrame(frame: { dest: number; src: number; header: number; data?: Uint8Array | readonly number[] }): Buffer {
  assertByte('destination', frame.dest);
  assertByte('source', frame.src);
  assertByte('header', frame.header);
  // Checked before Buffer.from, which would silently wrap 300 to 44.
  for (const byte of frame.data ?? []) assertByte('data byte', byte);
  const data = Buffer.from(frame.data ?? []);
  if (data.length > 255) throw new RangeError(`ccTalk frames carry at most 255 data bytes, got ${data.length}`);
  const body = Buffer.concat([Buffer.from([frame.dest, data.length, frame.src, frame.header]), data]);
  return Buffer.concat([body, Buffer.from([checksum(body)])]);
}

export function decodeFrame(bytes: Uint8Array): FrameDecodeResult {
  const buffer = Buffer.from(bytes);
  if (buffer.length < FRAME_OVERHEAD) {
    return { ok: false, reason: 'truncated', detail: `${buffer.length} bytes, a frame has at least ${FRAME_OVERHEAD}` };
  }
  const expected = buffer[1]! + FRAME_OVERHEAD;
  if (buffer.length < expected) {
    return { ok: false, reason: 'truncated', detail: `${buffer.length} of ${expected} bytes` };
  }
  if (buffer.length > expected) {
    return { ok: false, reason: 'length-mismatch', detail: `${buffer.length} bytes where the length byte says ${expected}` };
  }
  const sum = buffer.reduce((total, byte) => total + byte, 0) % 256;
  if (sum !== 0) {
    return { ok: false, reason: 'bad-checksum', detail: `bytes sum to ${sum} mod 256, not 0` };
  }
  return {
    ok: true,
    frame: { dest: buffer[0]!, src: buffer[2]!, header: buffer[3]!, data: buffer.subarray(4, expected - 1) },
  };
}

/** "28 00 01 FE D9", the way manuals and logic-analyser traces write frames. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
}
