/**
 * Validity windows of rules (campaigns, bonus brackets): ISO timestamps, start inclusive, end exclusive.
 *
 * Half-open [start, end) so that consecutive windows (one ends at midnight, the next starts at midnight)
 * never overlap and never leave a gap: an instant belongs to exactly one of them.
 * Timestamps must carry an explicit offset (Z or ±hh:mm): a bare local time would mean something
 * different on a kiosk and on the hub.
 */

export interface ValidityWindow {
  /** Inclusive; absent = since forever. */
  readonly validFrom?: string;
  /** Exclusive; absent = until revoked. */
  readonly validUntil?: string;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch (an integer) or null when the text is not an ISO instant with an offset. */
export function parseInstant(text: string): number | null {
  if (!ISO_INSTANT.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Problems with a window, as human-readable strings prefixed by `label` (empty when it is fine). */
export function windowProblems(label: string, window: ValidityWindow): string[] {
  const problems: string[] = [];
  const from = window.validFrom === undefined ? undefined : parseInstant(window.validFrom);
  const until = window.validUntil === undefined ? undefined : parseInstant(window.validUntil);
  if (from === null) problems.push(`${label}: validFrom "${String(window.validFrom)}" is not an ISO timestamp with offset`);
  if (until === null) problems.push(`${label}: validUntil "${String(window.validUntil)}" is not an ISO timestamp with offset`);
  if (typeof from === 'number' && typeof until === 'number' && from >= until) {
    problems.push(`${label}: validFrom must be before validUntil`);
  }
  return problems;
}

function bounds(window: ValidityWindow): [number, number] {
  const from = window.validFrom === undefined ? -Infinity : (parseInstant(window.validFrom) ?? NaN);
  const until = window.validUntil === undefined ? Infinity : (parseInstant(window.validUntil) ?? NaN);
  if (Number.isNaN(from) || Number.isNaN(until)) throw new TypeError('window was not validated');
  return [from, until];
}

/** The instant as integer epoch ms; throws on an Invalid Date so a bad clock never silently matches no rule. */
export function instantOf(at: Date): number {
  const t = at instanceof Date ? at.getTime() : Number.NaN;
  if (!Number.isSafeInteger(t)) throw new TypeError(`not a valid instant: ${String(at)}`);
  return t;
}

/** True when `at` lies in [validFrom, validUntil). */
export function isActiveAt(window: ValidityWindow, at: Date): boolean {
  const t = instantOf(at);
  const [from, until] = bounds(window);
  return from <= t && t < until;
}

/** True when some instant lies in both half-open windows. */
export function windowsOverlap(a: ValidityWindow, b: ValidityWindow): boolean {
  const [aFrom, aUntil] = bounds(a);
  const [bFrom, bUntil] = bounds(b);
  return aFrom < bUntil && bFrom < aUntil;
}
