import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../../../shared/money.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';
import { assertReferralAllowed, referralReward, referralRuleProblems, SelfReferralError, type ReferralRules } from '../../../shared/rules/referral.ts';

const onPurchase: ReferralRules = { enabled: true, trigger: 'first_purchase', referrerPoints: 100, refereePoints: 50, minFirstPurchaseFen: 5_000 };
const onRegistration: ReferralRules = { enabled: true, trigger: 'registration', referrerPoints: 30, refereePoints: 0 };

describe('referral rewards', () => {
  it.each([
    ['first purchase at the minimum', onPurchase, { kind: 'first_purchase', amountFen: 5_000 }, false, { referrerPoints: 100, refereePoints: 50 }],
    ['first purchase 1 fen short', onPurchase, { kind: 'first_purchase', amountFen: 4_999 }, false, null],
    ['registration when the trigger is first purchase', onPurchase, { kind: 'registration' }, false, null],
    ['already rewarded', onPurchase, { kind: 'first_purchase', amountFen: 9_000 }, true, null],
    ['registration', onRegistration, { kind: 'registration' }, false, { referrerPoints: 30, refereePoints: 0 }],
    ['purchase when the trigger is registration', onRegistration, { kind: 'first_purchase', amountFen: 9_000 }, false, null],
    ['programme off', { ...onRegistration, enabled: false }, { kind: 'registration' }, false, null],
    ['both rewards 0', { ...onRegistration, referrerPoints: 0 }, { kind: 'registration' }, false, null],
    ['no minimum: any purchase above 0', { ...onPurchase, minFirstPurchaseFen: undefined }, { kind: 'first_purchase', amountFen: 1 }, false, { referrerPoints: 100, refereePoints: 50 }],
    ['no minimum: a 0 purchase is not one', { ...onPurchase, minFirstPurchaseFen: undefined }, { kind: 'first_purchase', amountFen: 0 }, false, null],
  ] as const)('%s', (_label, rules, event, rewarded, expected) => {
    expect(referralReward(rules as ReferralRules, event, rewarded)).toEqual(expected);
  });

  it('no self-referral', () => {
    expect(() => assertReferralAllowed('m1', 'm1')).toThrow(SelfReferralError);
    expect(() => assertReferralAllowed('m1', 'm2')).not.toThrow();
    expect(new SelfReferralError().message).toMatch(/不能推荐自己 .* cannot refer themselves/);
  });

  it('bad rules and amounts', () => {
    expect(referralRuleProblems({ enabled: 'yes', trigger: 'birthday', referrerPoints: -1, refereePoints: 1.5, minFirstPurchaseFen: -1 } as unknown as ReferralRules)).toEqual([
      'enabled must be true or false',
      'trigger must be registration or first_purchase',
      'referrerPoints must be a whole number 0–1000000',
      'refereePoints must be a whole number 0–1000000',
      'minFirstPurchaseFen must be whole fen ≥ 0',
    ]);
    expect(referralRuleProblems({ ...onRegistration, minFirstPurchaseFen: 100 })).toEqual(['minFirstPurchaseFen only applies with trigger first_purchase']);
    expect(() => referralReward({ ...onPurchase, referrerPoints: -1 }, { kind: 'registration' }, false)).toThrow(RuleSetError);
    expect(() => referralReward(onPurchase, { kind: 'first_purchase', amountFen: 1.5 }, false)).toThrow(InvalidAmountError);
  });
});
