import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import { pointsForFen, pointsPerYuanOf, pointsToFen } from '../../../shared/rules/points-value.ts';
import { DEFAULT_TIER_RULES } from '../../../shared/rules/tiers.ts';

describe('points ↔ cash by tier (floor to cash, ceil to points)', () => {
  it.each([
    // points, pointsPerYuan, fen
    [0, 100, 0],
    [1, 100, 1],
    [100, 100, 100],
    [150, 100, 150],
    [1, 90, 1], // 1.11… → 1
    [8, 90, 8], // 8.88… → 8
    [9, 90, 10],
    [90, 90, 100],
    [89, 90, 98], // 98.88… → 98
    [1, 80, 1], // 1.25 → 1
    [80, 80, 100],
    [79, 80, 98], // 98.75 → 98
    [1, 300, 0], // less than one fen: worth nothing
    [3, 300, 1],
  ])('%i points at %i/¥ → %i fen', (points, ratio, fen) => {
    expect(pointsToFen(points, ratio)).toBe(fen);
  });

  it.each([
    // fen, pointsPerYuan, points needed
    [0, 100, 0],
    [1, 100, 1],
    [100, 100, 100],
    [1, 90, 1], // 0.9 → 1
    [10, 90, 9],
    [11, 90, 10], // 9.9 → 10
    [100, 90, 90],
    [1, 80, 1], // 0.8 → 1
    [99, 80, 80], // 79.2 → 80
    [1, 300, 3],
  ])('%i fen at %i/¥ needs %i points', (fen, ratio, points) => {
    expect(pointsForFen(fen, ratio)).toBe(points);
  });

  it('the points needed for an amount are always worth at least that amount', () => {
    for (const ratio of [1, 7, 80, 90, 100, 300]) {
      for (let fen = 0; fen <= 500; fen++) {
        const points = pointsForFen(fen, ratio);
        expect(pointsToFen(points, ratio)).toBeGreaterThanOrEqual(fen);
        if (points > 0) expect(pointsToFen(points - 1, ratio)).toBeLessThan(fen);
      }
    }
  });

  it.each([
    ['standard', 100],
    ['gold', 90],
    ['diamond', 80],
  ] as const)('%s: %i points per ¥1', (tier, ratio) => {
    expect(pointsPerYuanOf(tier, DEFAULT_TIER_RULES)).toBe(ratio);
  });

  it('refuses bad input', () => {
    expect(() => pointsToFen(-1, 100)).toThrow(RangeError);
    expect(() => pointsToFen(1.5, 100)).toThrow(RangeError);
    expect(() => pointsToFen(1, 0)).toThrow(RangeError);
    expect(() => pointsForFen(-1, 100)).toThrow(InvalidAmountError);
    expect(() => pointsForFen(0.5, 100)).toThrow(InvalidAmountError);
    expect(() => pointsForFen(1, -90)).toThrow(RangeError);
  });
});
