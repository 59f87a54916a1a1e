import { describe, expect, it } from 'vitest';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { retentionEnd, reviewTier, tierProgress, tierReviewProblems, tierWarning, type TierReviewPolicy } from '../../../shared/rules/tier-review.ts';
import { DEFAULT_TIER_RULES as T, type TierId } from '../../../shared/rules/tiers.ts';

const policy: TierReviewPolicy = { retentionDays: 365, downgrade: 'one_step', warningDays: 30, timeZone: 'Asia/Shanghai' };
const since = new Date('2025-01-01T00:00:00Z');
const end = new Date('2026-01-01T00:00:00Z'); // since + 365 days
const justBefore = new Date(end.getTime() - 1);
const state = (tier: TierId) => ({ tier, since });

describe('tier review: retention, then downgrade', () => {
  it('retention ends 365 × 24 h after the tier was reached', () => {
    expect(retentionEnd(policy, since)).toEqual(end);
  });

  it.each([
    // held, spend (fen), at, policy downgrade, → tier, outcome
    ['gold', 500_000, end, 'one_step', 'gold', 'confirmed'],
    ['gold', 499_999, justBefore, 'one_step', 'gold', 'retained'],
    ['gold', 499_999, end, 'one_step', 'silver', 'downgraded'],
    ['diamond', 0, end, 'one_step', 'gold', 'downgraded'],
    ['diamond', 0, end, 'to_qualifying', 'standard', 'downgraded'],
    ['diamond', 150_000, end, 'to_qualifying', 'silver', 'downgraded'],
    ['gold', 100_000, end, 'one_step', 'silver', 'downgraded'],
    ['silver', 2_000_000, justBefore, 'one_step', 'diamond', 'upgraded'],
    ['standard', 0, end, 'one_step', 'standard', 'confirmed'],
  ] as const)('%s with %i fen at %s (%s) → %s, %s', (held, spend, at, downgrade, tier, outcome) => {
    const result = reviewTier(T, { ...policy, downgrade }, state(held), spend, at);
    expect([result.tier, result.outcome]).toEqual([tier, outcome]);
    // A tier that is kept by retention keeps its start; any other outcome restarts the retention now.
    expect(result.since).toEqual(outcome === 'retained' ? since : at);
  });

  it('one step per review: diamond with no spend reaches standard over three yearly reviews', () => {
    let s = state('diamond') as { tier: TierId; since: Date };
    const seen: TierId[] = [];
    for (let year = 0; year < 4; year++) {
      const at = new Date(end.getTime() + year * 365 * 86_400_000);
      s = reviewTier(T, policy, s, 0, at);
      seen.push(s.tier);
    }
    expect(seen).toEqual(['gold', 'silver', 'standard', 'standard']);
  });

  it('zero retention downgrades at the first review below the threshold', () => {
    expect(reviewTier(T, { ...policy, retentionDays: 0 }, state('gold'), 0, since).tier).toBe('silver');
  });
});

describe('progress and warnings', () => {
  it.each([
    ['standard', 0, 'silver', 100_000, '再消费¥1000.00升级银卡 / Spend ¥1000.00 more to reach Silver'],
    ['silver', 499_999, 'gold', 1, '再消费¥0.01升级金卡 / Spend ¥0.01 more to reach Gold'],
    ['gold', 100_000, 'diamond', 1_900_000, '再消费¥19000.00升级钻石 / Spend ¥19000.00 more to reach Diamond'],
  ] as const)('%s with %i fen: %s in %i fen', (held, spend, next, remaining, message) => {
    expect(tierProgress(T, state(held), spend)).toEqual({ nextTier: next, remainingFen: remaining, message });
  });

  it('no progress at the top tier', () => {
    expect(tierProgress(T, state('diamond'), 0)).toBeNull();
  });

  const warnStart = new Date(end.getTime() - 30 * 86_400_000);
  it.each([
    ['qualifies: no warning', 'gold', 500_000, warnStart, null],
    ['below, but more than 30 days before the end', 'gold', 300_000, new Date(warnStart.getTime() - 1), null],
    ['below, exactly 30 days before the end', 'gold', 300_000, warnStart, '再消费¥2000.00保级金卡（2026-01-01前）/ Spend ¥2000.00 more by 2026-01-01 to keep Gold'],
    ['below, retention already over: by today', 'silver', 99_999, new Date('2026-03-01T02:00:00Z'), '再消费¥0.01保级银卡（2026-03-01前）/ Spend ¥0.01 more by 2026-03-01 to keep Silver'],
    ['lowest tier: nothing to lose', 'standard', 0, end, null],
  ] as const)('%s', (_label, held, spend, at, message) => {
    expect(tierWarning(T, policy, state(held), spend, at)?.message ?? null).toBe(message);
  });

  it('the warning date is the last local day before the deadline (Shanghai is 8 h ahead of UTC)', () => {
    const s = { tier: 'gold' as const, since: new Date('2025-06-30T16:00:00Z') }; // 2025-07-01 00:00 in Shanghai
    const w = tierWarning(T, policy, s, 0, new Date('2026-06-20T00:00:00Z'))!;
    expect(w.deadline.toISOString()).toBe('2026-06-30T16:00:00.000Z');
    expect(w.message).toContain('by 2026-06-30 to keep Gold');
  });
});

describe('tier review policy', () => {
  it('lists every problem', () => {
    expect(tierReviewProblems({ retentionDays: -1, downgrade: 'all', warningDays: 1.5, timeZone: 'Moon/Base' } as unknown as TierReviewPolicy)).toEqual([
      'retentionDays must be a whole number 0–3660',
      'warningDays must be a whole number 0–3660',
      'downgrade must be one_step or to_qualifying',
      'timeZone "Moon/Base" is not an IANA time zone',
    ]);
    expect(() => reviewTier(T, { ...policy, retentionDays: -1 }, state('gold'), 0, end)).toThrow(RuleSetError);
  });
});
