import { describe, expect, it } from 'vitest';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { DEFAULT_PROGRAM_RULES, programRuleProblems, validateProgramRules } from '../../../shared/rules/program.ts';
import { earnPoints } from '../../../shared/rules/earning.ts';
import { priceTopUp } from '../../../shared/rules/topup-bonus.ts';

const at = new Date('2026-06-01T04:00:00Z');

describe('program rules: the whole program as one value', () => {
  it('the defaults are valid and survive a JSON round trip unchanged', () => {
    expect(programRuleProblems(DEFAULT_PROGRAM_RULES)).toEqual([]);
    const copy = JSON.parse(JSON.stringify(DEFAULT_PROGRAM_RULES));
    expect(copy).toEqual(DEFAULT_PROGRAM_RULES);
    expect(() => validateProgramRules(copy)).not.toThrow();
  });

  it.each([
    [9_999, 0],
    [10_000, 2_000],
    [19_999, 2_000],
    [20_000, 5_000],
    [30_000, 10_000],
    [100_000, 10_000],
  ])('default top-up bonus: ¥%i fen → bonus %i fen (充100送20, 充200送50, 充300送100)', (paid, bonus) => {
    expect(priceTopUp(DEFAULT_PROGRAM_RULES.topUpBonus, paid, at).bonusFen).toBe(bonus);
  });

  it.each([
    [9_999, 'standard', 0],
    [10_000, 'standard', 10],
    [20_000, 'standard', 25],
    [20_000, 'gold', 37],
  ])('default earning: %i fen as %s → %i points', (amountFen, tier, points) => {
    expect(earnPoints(DEFAULT_PROGRAM_RULES.earning, { amountFen, category: 'any', tier, at }).points).toBe(points);
  });

  it('lists every problem of every section at once', () => {
    const bad = {
      ...DEFAULT_PROGRAM_RULES,
      tiers: { ...DEFAULT_PROGRAM_RULES.tiers, spendWindowDays: 0 },
      tierReview: { ...DEFAULT_PROGRAM_RULES.tierReview, downgrade: 'all_the_way' },
      topUpBonus: [{ id: 'x', thresholdFen: -1, bonusFen: 1.5 }],
      spendingOrder: 'random',
      pointsExpiry: { kind: 'months_after_award', months: 0, timeZone: 'Mars/Base' },
      budgets: { ...DEFAULT_PROGRAM_RULES.budgets, alertPercents: [100, 80] },
      checkIn: { ...DEFAULT_PROGRAM_RULES.checkIn, points: -5 },
      referral: { ...DEFAULT_PROGRAM_RULES.referral, trigger: 'birthday' },
      bogus: true,
    };
    const problems = programRuleProblems(bad);
    for (const prefix of ['bogus: unknown section', 'tiers: spendWindowDays', 'tierReview: downgrade', 'topUpBonus: rule 0 (x): threshold',
      'topUpBonus: rule 0 (x): bonusFen', 'spendingOrder:', 'pointsExpiry: months', 'pointsExpiry: timeZone', 'budgets: alertPercents 1',
      'checkIn: points', 'referral: trigger']) {
      expect(problems.some((p) => p.startsWith(prefix)), `${prefix} in ${problems.join(' | ')}`).toBe(true);
    }
    expect(() => validateProgramRules(bad)).toThrow(RuleSetError);
  });

  it.each([
    [null, ['rules must be an object']],
    [[], ['rules must be an object']],
    [{}, ['tiers: missing', 'tierReview: missing', 'earning: missing', 'topUpBonus: missing', 'spendingOrder: missing',
      'pointsExpiry: missing', 'budgets: missing', 'checkIn: missing', 'referral: missing']],
  ])('malformed input %j', (input, problems) => {
    expect(programRuleProblems(input)).toEqual(problems);
  });

  it('a section of the wrong shape is a problem, not a crash', () => {
    const problems = programRuleProblems({ ...DEFAULT_PROGRAM_RULES, tiers: [], earning: 'lots', topUpBonus: {} });
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^tiers: /), 'earning: must be an object', 'topUpBonus: must be a list']));
  });

  it('earning multipliers must name tiers the program defines', () => {
    const rules = { ...DEFAULT_PROGRAM_RULES, earning: { ...DEFAULT_PROGRAM_RULES.earning, tierMultiplierPercent: { platinum: 300 } } };
    expect(programRuleProblems(rules)).toEqual(['earning: tierMultiplierPercent names tier "platinum" which tiers does not define']);
  });
});
