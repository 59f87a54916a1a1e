import { describe, expect, it } from 'vitest';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { DEFAULT_CARD_FEE_SCHEDULE } from '../../../shared/rules/cards.ts';
import { DEFAULT_PROGRAM_RULES, programCardFees, programRuleProblems, type ProgramRules, validateProgramRules } from '../../../shared/rules/program.ts';
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
      cardFees: { ...DEFAULT_CARD_FEE_SCHEDULE, group: { joining: 5_000, annual: -1, replacement: 2_000 } },
      bogus: true,
    };
    const problems = programRuleProblems(bad);
    for (const prefix of ['bogus: unknown section', 'tiers: spendWindowDays', 'tierReview: downgrade', 'topUpBonus: rule 0 (x): threshold',
      'topUpBonus: rule 0 (x): bonusFen', 'spendingOrder:', 'pointsExpiry: months', 'pointsExpiry: timeZone', 'budgets: alertPercents 1',
      'checkIn: points', 'referral: trigger', 'cardFees: group.annual: must be a whole number of fen ≥ 0, got -1']) {
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

  describe('card fees', () => {
    /** A rule set as published before card fees were part of the program. */
    const { cardFees: _none, ...published } = DEFAULT_PROGRAM_RULES;
    const withFees = (cardFees: unknown) => ({ ...DEFAULT_PROGRAM_RULES, cardFees });

    it('the defaults carry the default card fee schedule', () => {
      expect(DEFAULT_PROGRAM_RULES.cardFees).toEqual(DEFAULT_CARD_FEE_SCHEDULE);
      expect(programCardFees(DEFAULT_PROGRAM_RULES)).toEqual(DEFAULT_CARD_FEE_SCHEDULE);
    });

    it('a rule set published before card fees has none: it is valid and means the default schedule', () => {
      const old: ProgramRules = JSON.parse(JSON.stringify(published));
      expect('cardFees' in old).toBe(false);
      expect(programRuleProblems(old)).toEqual([]);
      expect(() => validateProgramRules(old)).not.toThrow();
      expect(programCardFees(old)).toEqual(DEFAULT_CARD_FEE_SCHEDULE);
    });

    it('a published schedule is the one in force', () => {
      const cardFees = { ...DEFAULT_CARD_FEE_SCHEDULE, group: { joining: 0, annual: 8_800, replacement: 1_500 } };
      expect(programRuleProblems(withFees(cardFees))).toEqual([]);
      expect(programCardFees(withFees(cardFees) as ProgramRules)).toEqual(cardFees);
    });

    it.each([
      [null, ['cardFees: must be an object, or left out for the default']],
      ['free', ['cardFees: must be an object']],
      [[], ['cardFees: must be an object of card types']],
      [
        { ...DEFAULT_CARD_FEE_SCHEDULE, gold: { joining: 0, annual: 0, replacement: 0 } },
        ['cardFees: gold: unknown card type (the types are personal, supplementary, group, vip)'],
      ],
      [
        { ...DEFAULT_CARD_FEE_SCHEDULE, personal: { joining: 0, anual: 100, replacement: 2_000 }, vip: 'waived' },
        [
          'cardFees: personal.anual: unknown fee (the fees are joining, annual, replacement)',
          'cardFees: personal.annual: must be a whole number of fen ≥ 0, got undefined',
          'cardFees: vip: must be an object of fees (joining, annual, replacement)',
        ],
      ],
      [
        { personal: DEFAULT_CARD_FEE_SCHEDULE.personal, supplementary: { joining: 1.5, annual: 0, replacement: 1_000 }, group: DEFAULT_CARD_FEE_SCHEDULE.group },
        ['cardFees: supplementary.joining: must be a whole number of fen ≥ 0, got 1.5', 'cardFees: vip: must be an object of fees (joining, annual, replacement)'],
      ],
    ])('a bad schedule %j: every problem named', (cardFees, problems) => {
      expect(programRuleProblems(withFees(cardFees))).toEqual(problems);
      expect(() => validateProgramRules(withFees(cardFees))).toThrow(RuleSetError);
    });
  });
});
