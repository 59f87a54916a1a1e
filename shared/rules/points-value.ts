/**
 * What points are worth in cash, by tier: `pointsPerYuan` points are worth ¥1 (100 fen), from the tier's
 * benefits (e.g. 100 points = ¥1 for Standard, 80 points = ¥1 for Diamond).
 *
 * Rounding always favours the program, so points can never be turned into more cash than they are worth:
 * - points → fen floors (150 points at 100/¥ = 150 fen; 1 point at 90/¥ = 1.11… → 1 fen);
 * - fen → points needed ceils (1 fen at 90/¥ needs 0.9 → 1 point).
 * BigInt keeps the products exact.
 */
import { InvalidAmountError, isFen } from '../money.ts';
import { tierById, type TierId, type TierRules } from './tiers.ts';

function checkRatio(pointsPerYuan: number): void {
  if (!Number.isSafeInteger(pointsPerYuan) || pointsPerYuan <= 0) {
    throw new RangeError(`pointsPerYuan must be a positive whole number: ${String(pointsPerYuan)}`);
  }
}

/** Cash value of `points` in fen: ⌊points × 100 / pointsPerYuan⌋. */
export function pointsToFen(points: number, pointsPerYuan: number): number {
  checkRatio(pointsPerYuan);
  if (!Number.isSafeInteger(points) || points < 0) throw new RangeError(`points must be a whole number ≥ 0: ${String(points)}`);
  return Number((BigInt(points) * 100n) / BigInt(pointsPerYuan));
}

/** Fewest points worth at least `fen`: ⌈fen × pointsPerYuan / 100⌉. */
export function pointsForFen(fen: number, pointsPerYuan: number): number {
  checkRatio(pointsPerYuan);
  if (!isFen(fen) || fen < 0) throw new InvalidAmountError(`amount must be a whole number of fen ≥ 0: ${String(fen)}`);
  return Number((BigInt(fen) * BigInt(pointsPerYuan) + 99n) / 100n);
}

/** The points→cash ratio of a tier. */
export function pointsPerYuanOf(tier: TierId, rules: TierRules): number {
  return tierById(tier, rules).benefits.pointsPerYuan;
}
