/**
 * The bill validator's event buffer (ccTalk header 159) and what a reply means given the last counter
 * the host has seen. Pure functions: the money rules live here, where they can be tested exhaustively.
 *
 * The reply is [counter][A1 B1]…[A5 B5], newest first. The counter counts events 1..255 and then wraps
 * to 1; it is 0 only after power-up or reset. The buffer holds the last 5 events only.
 */
export const EVENT_BUFFER_SIZE = 5;

export interface BufferedEvent {
  /** The device's event counter value for this event (1..255). */
  counter: number;
  /** 1..255: a bill type; 0: B is a status code. */
  a: number;
  b: number;
}

export interface EventBuffer {
  counter: number;
  /** Newest first, as the device sends them. */
  pairs: ReadonlyArray<{ a: number; b: number }>;
}

export type EventBatch =
  /** No counter to compare with (first start ever): the current counter is where we begin. */
  | { kind: 'baseline'; counter: number }
  /** Counter back to 0: the device restarted and its setup (inhibits) is gone. */
  | { kind: 'reset'; counter: 0 }
  /** `events` oldest first; `missed` events happened but fell out of the 5-event buffer. */
  | { kind: 'events'; counter: number; events: BufferedEvent[]; missed: number };

/** Null when the reply is not 1 + 2×5 bytes: a reply we cannot read credits nothing. */
export function parseEventBuffer(data: Uint8Array): EventBuffer | null {
  if (data.length !== 1 + 2 * EVENT_BUFFER_SIZE) return null;
  const pairs = Array.from({ length: EVENT_BUFFER_SIZE }, (_, i) => ({ a: data[1 + 2 * i]!, b: data[2 + 2 * i]! }));
  return { counter: data[0]!, pairs };
}

/** How many events happened going from counter `last` to `current` (counters skip 0 when they wrap). */
export function eventsBetween(last: number, current: number): number {
  const difference = current - last;
  return difference < 0 ? difference + 255 : difference;
}

/** The counter value `steps` events before `counter`, wrapping 1 → 255. */
export function counterBefore(counter: number, steps: number): number {
  return ((((counter - 1 - steps) % 255) + 255) % 255) + 1;
}

export function newEvents(last: number | undefined, buffer: EventBuffer): EventBatch {
  const { counter } = buffer;
  if (last === undefined) return { kind: 'baseline', counter };
  if (counter === 0 && last !== 0) return { kind: 'reset', counter: 0 };
  const count = eventsBetween(last, counter);
  const visible = Math.min(count, EVENT_BUFFER_SIZE);
  const events: BufferedEvent[] = [];
  for (let i = visible - 1; i >= 0; i -= 1) {
    const pair = buffer.pairs[i]!;
    events.push({ counter: counterBefore(counter, i), a: pair.a, b: pair.b });
  }
  return { kind: 'events', counter, events, missed: count - visible };
}

/** What a status event (A = 0) means for the kiosk. */
export type StatusMeaning =
  | { kind: 'rejected'; reason: string }
  | { kind: 'returned' }
  | { kind: 'fault'; code: BillFaultCode; message: string }
  | { kind: 'clears'; codes: BillFaultCode[] }
  /** The device stacked something it could not identify: money in the box we cannot value. */
  | { kind: 'unknown-bill-stacked' }
  | { kind: 'unknown'; status: number };

/**
 * Lasting device conditions. Jams and a faulty anti-string sensor end when the self-check (232) reports
 * no fault; stacker conditions end with the device's own stacker events.
 */
export type BillFaultCode = 'jam' | 'stacker-jam' | 'stacker-removed' | 'stacker-faulty' | 'stacker-full' | 'anti-string-faulty';

export const SELF_CHECK_CLEARED: ReadonlySet<string> = new Set<BillFaultCode>(['jam', 'stacker-jam', 'anti-string-faulty']);

/** Status codes (B when A = 0), named as in the ccTalk bill event table. */
export const BillStatus = {
  masterInhibitActive: 0,
  returnedFromEscrow: 1,
  validationFail: 2,
  transportProblem: 3,
  inhibitedSerial: 4,
  inhibitedDip: 5,
  jamUnsafe: 6,
  jamInStacker: 7,
  pulledBackwards: 8,
  tamper: 9,
  stackerOk: 10,
  stackerRemoved: 11,
  stackerInserted: 12,
  stackerFaulty: 13,
  stackerFull: 14,
  stackerJammed: 15,
  jamSafe: 16,
  optoFraud: 17,
  stringFraud: 18,
  antiStringFaulty: 19,
  barcodeDetected: 20,
  unknownBillStacked: 21,
} as const;

const S = BillStatus;
const MEANINGS = new Map<number, StatusMeaning>([
  [S.masterInhibitActive, { kind: 'rejected', reason: 'disabled' }],
  [S.returnedFromEscrow, { kind: 'returned' }],
  [S.validationFail, { kind: 'rejected', reason: 'validation-failed' }],
  [S.transportProblem, { kind: 'rejected', reason: 'transport-problem' }],
  [S.inhibitedSerial, { kind: 'rejected', reason: 'inhibited' }],
  [S.inhibitedDip, { kind: 'rejected', reason: 'inhibited-by-switch' }],
  [S.jamUnsafe, { kind: 'fault', code: 'jam', message: 'bill jammed in the transport where it may already be in the cash box: clear it and count the box' }],
  [S.jamInStacker, { kind: 'fault', code: 'stacker-jam', message: 'bill jammed in the stacker' }],
  [S.pulledBackwards, { kind: 'rejected', reason: 'pulled-backwards' }],
  [S.tamper, { kind: 'rejected', reason: 'tamper' }],
  [S.stackerOk, { kind: 'clears', codes: ['stacker-full', 'stacker-faulty', 'stacker-jam'] }],
  [S.stackerRemoved, { kind: 'fault', code: 'stacker-removed', message: 'cash box removed' }],
  // Putting the box back is how it gets emptied, so a full box is no longer full.
  [S.stackerInserted, { kind: 'clears', codes: ['stacker-removed', 'stacker-full'] }],
  [S.stackerFaulty, { kind: 'fault', code: 'stacker-faulty', message: 'cash box (stacker) faulty' }],
  [S.stackerFull, { kind: 'fault', code: 'stacker-full', message: 'cash box full: empty it' }],
  [S.stackerJammed, { kind: 'fault', code: 'stacker-jam', message: 'stacker jammed' }],
  [S.jamSafe, { kind: 'fault', code: 'jam', message: 'bill jammed in the transport, not taken: clear it' }],
  [S.optoFraud, { kind: 'rejected', reason: 'opto-fraud' }],
  [S.stringFraud, { kind: 'rejected', reason: 'string-fraud' }],
  [S.antiStringFaulty, { kind: 'fault', code: 'anti-string-faulty', message: 'anti-string sensor faulty' }],
  [S.barcodeDetected, { kind: 'rejected', reason: 'barcode-ticket' }],
  [S.unknownBillStacked, { kind: 'unknown-bill-stacked' }],
]);

export function statusMeaning(status: number): StatusMeaning {
  return MEANINGS.get(status) ?? { kind: 'unknown', status };
}
