import { describe, expect, it } from 'vitest';
import {
  CARD_ACTIONS,
  CARD_STATUSES,
  CARD_TYPES,
  type CardAction,
  type CardPerformer,
  type CardStatus,
  DEFAULT_CARD_FEE_SCHEDULE,
  bilingualText,
  cardFee,
  cardFeeScheduleProblems,
  cardTypesWithAnnualFee,
  cardUseRefusal,
  checkCardAction,
  dailyLimitRefusal,
  mayHaveSupplementary,
  validateCardFeeSchedule,
} from '../../../shared/rules/cards.ts';
import { RuleSetError } from '../../../shared/rules/errors.ts';

const personal = (status: CardStatus) => ({ type: 'personal' as const, status, activeSupplementaries: 0 });

/** Every state × action, as a manager (who may do every action): the state reached, or '—' when refused. */
const LIFECYCLE: Record<CardStatus, Record<CardAction, CardStatus | '—'>> = {
  active: { report_loss: 'lost', cancel_loss: '—', freeze: 'frozen', unfreeze: '—', replace: 'replaced', cancel: 'cancelled' },
  lost: { report_loss: '—', cancel_loss: 'active', freeze: '—', unfreeze: '—', replace: 'replaced', cancel: 'cancelled' },
  frozen: { report_loss: '—', cancel_loss: '—', freeze: '—', unfreeze: 'active', replace: '—', cancel: 'cancelled' },
  cancelled: { report_loss: '—', cancel_loss: '—', freeze: '—', unfreeze: '—', replace: '—', cancel: '—' },
  replaced: { report_loss: '—', cancel_loss: '—', freeze: '—', unfreeze: '—', replace: '—', cancel: '—' },
};

describe('card lifecycle: every state × action', () => {
  const cases = CARD_STATUSES.flatMap((status) => CARD_ACTIONS.map((action) => [status, action, LIFECYCLE[status][action]] as const));

  it.each(cases)('%s + %s → %s', (status, action, expected) => {
    const check = checkCardAction(personal(status), action, 'manager');
    if (expected === '—') {
      expect(check.ok).toBe(false);
      if (check.ok) return;
      expect(check.refusal.code).toBe('CARD_INVALID_STATE');
      expect(check.refusal.zh).toMatch(/^此卡.+不能/);
      expect(check.refusal.en).toMatch(/^This card is .+, so it cannot /);
    } else {
      expect(check).toEqual({ ok: true, to: expected });
    }
  });

  it('covers all 30 combinations', () => expect(cases).toHaveLength(CARD_STATUSES.length * CARD_ACTIONS.length));

  it('names the state and the action in both languages', () => {
    const check = checkCardAction(personal('frozen'), 'replace', 'admin');
    expect(check).toEqual({
      ok: false,
      refusal: { code: 'CARD_INVALID_STATE', zh: '此卡已冻结，不能补卡', en: 'This card is frozen, so it cannot be replaced' },
    });
  });
});

/** Who may do what: ✓ allowed, ✗ refused with FORBIDDEN (checked on a card where the action is legal). */
const PERMISSIONS: Record<CardAction, Record<CardPerformer, boolean>> = {
  report_loss: { member: true, admin: true, manager: true, cashier: true, technician: false },
  cancel_loss: { member: false, admin: true, manager: true, cashier: true, technician: false },
  freeze: { member: false, admin: true, manager: true, cashier: false, technician: false },
  unfreeze: { member: false, admin: true, manager: true, cashier: false, technician: false },
  replace: { member: false, admin: true, manager: true, cashier: true, technician: false },
  cancel: { member: false, admin: true, manager: true, cashier: false, technician: false },
};
const LEGAL_FROM: Record<CardAction, CardStatus> = {
  report_loss: 'active', cancel_loss: 'lost', freeze: 'active', unfreeze: 'frozen', replace: 'lost', cancel: 'active',
};

describe('who may change a card', () => {
  const cases = CARD_ACTIONS.flatMap((action) =>
    (Object.keys(PERMISSIONS[action]) as CardPerformer[]).map((performer) => [action, performer, PERMISSIONS[action][performer]] as const),
  );

  it.each(cases)('%s by %s → allowed %s', (action, performer, allowed) => {
    const check = checkCardAction(personal(LEGAL_FROM[action]), action, performer);
    expect(check.ok).toBe(allowed);
    if (!check.ok) {
      expect(check.refusal.code).toBe('FORBIDDEN');
      expect(check.refusal.zh).toMatch(/^您无权/);
      expect(check.refusal.en).toMatch(/^You may not /);
    }
  });

  it('a performer without the right learns nothing about the card state', () => {
    const check = checkCardAction(personal('cancelled'), 'freeze', 'cashier');
    expect(check.ok || check.refusal.code).toBe('FORBIDDEN');
  });
});

describe('cancelling a primary card', () => {
  it.each([
    [0, true],
    [1, false],
    [3, false],
  ])('with %i active supplementary cards → allowed %s', (activeSupplementaries, allowed) => {
    const check = checkCardAction({ type: 'personal', status: 'active', activeSupplementaries }, 'cancel', 'admin');
    expect(check.ok).toBe(allowed);
    if (!check.ok) expect(check.refusal.en).toContain(`${activeSupplementaries} active supplementary`);
  });
});

describe('using a card', () => {
  it.each([
    ['active', undefined, undefined],
    ['lost', 'CARD_LOST', '此卡已挂失，请联系门店 / This card is reported lost, please ask staff'],
    ['frozen', 'CARD_FROZEN', '此卡已冻结，请联系门店 / This card is frozen, please ask staff'],
    ['cancelled', 'CARD_INVALID_STATE', '此卡已注销，不能使用 / This card has been cancelled and cannot be used'],
    ['replaced', 'CARD_INVALID_STATE', '此卡已换新卡，请使用新卡 / This card has been replaced, please use the new card'],
  ] as const)('%s → %s', (status, code, text) => {
    const refusal = cardUseRefusal(status);
    expect(refusal?.code).toBe(code);
    expect(refusal && bilingualText(refusal)).toBe(text);
  });

  it.each([
    ['personal', 'active', undefined],
    ['vip', 'active', undefined],
    ['group', 'active', undefined],
    ['supplementary', 'active', 'CARD_INVALID_STATE'],
    ['personal', 'lost', 'CARD_LOST'],
    ['personal', 'frozen', 'CARD_FROZEN'],
    ['personal', 'replaced', 'CARD_INVALID_STATE'],
  ] as const)('a %s %s card as primary of a supplementary card → %s', (type, status, code) => {
    expect(mayHaveSupplementary({ type, status })?.code).toBe(code);
  });
});

describe('daily limit of a supplementary card (reaching it exactly is allowed)', () => {
  it.each([
    [null, 1_000_000, 1_000_000, undefined],
    [10_000, 0, 10_000, undefined],
    [10_000, 0, 10_001, 'CARD_DAILY_LIMIT_EXCEEDED'],
    [10_000, 9_999, 1, undefined],
    [10_000, 9_999, 2, 'CARD_DAILY_LIMIT_EXCEEDED'],
    [10_000, 10_000, 1, 'CARD_DAILY_LIMIT_EXCEEDED'],
    [0, 0, 1, 'CARD_DAILY_LIMIT_EXCEEDED'],
  ])('limit %s, spent %i, paying %i → %s', (limit, spent, amount, code) => {
    expect(dailyLimitRefusal(limit, spent, amount)?.code).toBe(code);
  });

  it('says how much is left today, in both languages', () => {
    expect(dailyLimitRefusal(10_000, 9_950, 100)).toEqual({
      code: 'CARD_DAILY_LIMIT_EXCEEDED',
      zh: '此卡每日限额¥100.00，今日还可消费¥0.50',
      en: 'This card may spend ¥100.00 a day; ¥0.50 is left today',
    });
  });
});

describe('card fees', () => {
  it.each([
    ['personal', 'joining', undefined, 0, 0, undefined],
    ['personal', 'replacement', 'lost', 2_000, 2_000, undefined],
    ['personal', 'replacement', 'damaged', 2_000, 2_000, undefined],
    ['personal', 'replacement', 'defective', 2_000, 0, 'defective_card'],
    ['supplementary', 'joining', undefined, 1_000, 1_000, undefined],
    ['supplementary', 'replacement', 'lost', 1_000, 1_000, undefined],
    ['group', 'joining', undefined, 5_000, 5_000, undefined],
    ['group', 'annual', undefined, 10_000, 10_000, undefined],
    ['vip', 'joining', undefined, 0, 0, undefined],
    ['vip', 'annual', undefined, 20_000, 0, 'vip_card'],
    ['vip', 'replacement', 'lost', 2_000, 0, 'vip_card'],
    ['vip', 'replacement', 'defective', 2_000, 0, 'defective_card'],
  ] as const)('%s %s (%s): scheduled %i, charged %i, waived by %s', (type, kind, reason, scheduled, charged, waiver) => {
    const quote = cardFee(DEFAULT_CARD_FEE_SCHEDULE, type, kind, reason);
    expect(quote).toEqual({ kind, scheduledFen: scheduled, amountFen: charged, ...(waiver ? { waivedBy: waiver } : {}) });
  });

  it('a waiver of a fee that is already 0 is not recorded', () => {
    const free = { ...DEFAULT_CARD_FEE_SCHEDULE, vip: { joining: 0, annual: 0, replacement: 0 } };
    expect(cardFee(free, 'vip', 'replacement', 'lost')).toEqual({ kind: 'replacement', scheduledFen: 0, amountFen: 0 });
  });

  it('the default schedule is valid', () => expect(() => validateCardFeeSchedule(DEFAULT_CARD_FEE_SCHEDULE)).not.toThrow());

  it('reports every problem of a bad schedule at once', () => {
    const bad = {
      ...DEFAULT_CARD_FEE_SCHEDULE,
      personal: { joining: -1, annual: 0.5, replacement: 2_000 },
      group: { joining: 0, annual: Number.NaN, replacement: 2_000 },
    };
    const error = (() => {
      try {
        validateCardFeeSchedule(bad);
      } catch (e) {
        return e as RuleSetError;
      }
    })();
    expect(error).toBeInstanceOf(RuleSetError);
    expect(error!.problems).toEqual([
      'personal.joining: must be a whole number of fen ≥ 0, got -1',
      'personal.annual: must be a whole number of fen ≥ 0, got 0.5',
      'group.annual: must be a whole number of fen ≥ 0, got NaN',
    ]);
  });

  it.each([
    [undefined, ['must be an object of card types']],
    ['free', ['must be an object of card types']],
    [{}, CARD_TYPES.map((type) => `${type}: must be an object of fees (joining, annual, replacement)`)],
    [
      { ...DEFAULT_CARD_FEE_SCHEDULE, staff: {}, group: { joining: 0, annual: 0, replacement: 0, renewal: 1 } },
      ['staff: unknown card type (the types are personal, supplementary, group, vip)', 'group.renewal: unknown fee (the fees are joining, annual, replacement)'],
    ],
    [{ ...DEFAULT_CARD_FEE_SCHEDULE, vip: { joining: 0, annual: 100_000_000_000_000, replacement: '20' } }, [
      'vip.annual: must be a whole number of fen ≥ 0, got 100000000000000',
      'vip.replacement: must be a whole number of fen ≥ 0, got 20',
    ]],
  ])('a schedule %j has problems %j', (schedule, problems) => {
    expect(cardFeeScheduleProblems(schedule)).toEqual(problems);
  });

  it.each([
    [DEFAULT_CARD_FEE_SCHEDULE, ['group', 'vip']],
    [{ ...DEFAULT_CARD_FEE_SCHEDULE, group: { joining: 0, annual: 0, replacement: 0 }, personal: { joining: 0, annual: 1, replacement: 0 } }, ['personal', 'vip']],
  ] as const)('the annual-fee run visits the types with an annual fee on the price list, waived ones included', (schedule, types) => {
    expect(cardTypesWithAnnualFee(schedule)).toEqual(types);
  });

  it('the default schedule is pinned: rule sets published before card fees were in the program mean exactly this', () => {
    expect(DEFAULT_CARD_FEE_SCHEDULE).toEqual({
      personal: { joining: 0, annual: 0, replacement: 2_000 },
      supplementary: { joining: 1_000, annual: 0, replacement: 1_000 },
      group: { joining: 5_000, annual: 10_000, replacement: 2_000 },
      vip: { joining: 0, annual: 20_000, replacement: 2_000 },
    });
  });

  it('has a price for every type and occasion', () => {
    for (const type of CARD_TYPES) expect(Object.keys(DEFAULT_CARD_FEE_SCHEDULE[type]).sort()).toEqual(['annual', 'joining', 'replacement']);
  });
});
