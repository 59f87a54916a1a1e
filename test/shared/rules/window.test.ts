import { describe, expect, it } from 'vitest';
import { isActiveAt, parseInstant, windowProblems, windowsOverlap } from '../../../shared/rules/window.ts';

const window = { validFrom: '2026-02-01T00:00:00+08:00', validUntil: '2026-02-08T00:00:00+08:00' };

describe('validity windows: start inclusive, end exclusive', () => {
  it.each([
    ['one ms before start', '2026-01-31T23:59:59.999+08:00', false],
    ['exactly at start', '2026-02-01T00:00:00+08:00', true],
    ['the same instant in UTC', '2026-01-31T16:00:00Z', true],
    ['inside', '2026-02-04T12:00:00+08:00', true],
    ['one ms before end', '2026-02-07T23:59:59.999+08:00', true],
    ['exactly at end', '2026-02-08T00:00:00+08:00', false],
  ])('%s → %s', (_name, at, active) => {
    expect(isActiveAt(window, new Date(at))).toBe(active);
  });

  it('an open-ended window is always active on its open side', () => {
    expect(isActiveAt({}, new Date('1970-01-01T00:00:00Z'))).toBe(true);
    expect(isActiveAt({ validFrom: window.validFrom }, new Date('2999-01-01T00:00:00Z'))).toBe(true);
    expect(isActiveAt({ validUntil: window.validUntil }, new Date('2000-01-01T00:00:00Z'))).toBe(true);
  });

  it.each([
    ['2026-02-01', null],
    ['2026-02-01T00:00:00', null],
    ['yesterday', null],
    ['2026-02-01T00:00:00Z', Date.UTC(2026, 1, 1)],
    ['2026-02-01T08:00+08:00', Date.UTC(2026, 1, 1)],
  ])('parses "%s" as %s (an offset is required)', (text, ms) => {
    expect(parseInstant(text)).toBe(ms);
  });

  it('reports an unparseable or empty window', () => {
    expect(windowProblems('w', { validFrom: '2026-02-01' })).toHaveLength(1);
    expect(windowProblems('w', { validFrom: window.validUntil, validUntil: window.validFrom })).toHaveLength(1);
    expect(windowProblems('w', { validFrom: window.validFrom, validUntil: window.validFrom })).toHaveLength(1);
    expect(windowProblems('w', window)).toEqual([]);
  });

  it('back-to-back windows do not overlap; one shared ms does', () => {
    const next = { validFrom: window.validUntil, validUntil: '2026-03-01T00:00:00+08:00' };
    expect(windowsOverlap(window, next)).toBe(false);
    expect(windowsOverlap(window, { ...next, validFrom: '2026-02-07T23:59:59.999+08:00' })).toBe(true);
    expect(windowsOverlap({}, window)).toBe(true);
  });
});
