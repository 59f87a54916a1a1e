import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardService, type CardChangeInput, type StatusAction } from '../../cloud/cards/card-service.ts';
import type { Database } from '../../cloud/db/database.ts';
import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { localDateOf } from '../../shared/rules/points-expiry.ts';
import { CARD_ACTIONS, CARD_STATUSES, DEFAULT_CARD_FEE_SCHEDULE, type CardAction, type CardFeeSchedule, type CardStatus } from '../../shared/rules/cards.ts';
import { RuleSetError } from '../../shared/rules/errors.ts';
import { DEFAULT_PROGRAM_RULES } from '../../shared/rules/program.ts';
import { TestHub } from '../helpers/hub.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { linkKiosk } from '../helpers/sync-hub.ts';
import { BACKENDS, expectLedgerConsistent, key, newCardNumber, newCardUid, refusal, rowCounts, useDatabases, testLedger } from './support.ts';
import { memberByCard, memberByCardNumber, bindCard } from '../../cloud/cards/index.ts';

const manager: Actor = { type: 'operator', id: 'manager-1' };
const cashier: Actor = { type: 'operator', id: 'cashier-1' };
const databases = useDatabases();
const BONUS_RULES = [{ id: '充100送20', thresholdFen: 10_000, bonusFen: 2_000 }];

/** Everything a refused card change could have touched. */
async function snapshot(db: Database, cardUid: string, memberId: string) {
  const { rows } = await db.query(
    `SELECT (SELECT status FROM cards WHERE uid = $1) AS status,
            (SELECT version FROM members WHERE id = $2) AS version,
            (SELECT count(*) FROM cards) AS cards, (SELECT count(*) FROM card_events) AS events,
            (SELECT count(*) FROM card_fees) AS fees, (SELECT count(*) FROM idempotency_keys) AS requests`,
    [cardUid, memberId],
  );
  return { ...rows[0], ...(await rowCounts(db)) };
}

describe.each(BACKENDS)('cards on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;
  let cards: CardService;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
    cards = new CardService(db, ledger);
  });

  async function memberWithCard(options: { topUpFen?: number; type?: 'personal' | 'group' | 'vip'; cardNumber?: string } = {}) {
    const member = await ledger.createMember({ name: '李雷 Li Lei', actor: manager });
    const cardUid = newCardUid();
    await bindCard(db, ledger, {
      memberId: member.memberId,
      cardUid,
      actor: manager,
      ...(options.type ? { type: options.type } : {}),
      ...(options.cardNumber ? { cardNumber: options.cardNumber } : {}),
    });
    if (options.topUpFen) {
      await ledger.topUpCash({ idempotencyKey: key('top'), memberId: member.memberId, amountFen: options.topUpFen, actor: cashier, bonusRules: BONUS_RULES });
    }
    return { memberId: member.memberId, cardUid };
  }

  const change = (cardUid: string, extra: Partial<CardChangeInput> = {}): CardChangeInput => ({
    cardUid,
    idempotencyKey: key('card'),
    reason: 'member called the hotline',
    actor: manager,
    by: 'manager',
    ...extra,
  });

  /** A card brought into `status` the way a store would. */
  async function cardIn(status: CardStatus) {
    const held = await memberWithCard();
    if (status === 'lost') await cards.changeStatus('report_loss', change(held.cardUid));
    if (status === 'frozen') await cards.changeStatus('freeze', change(held.cardUid));
    if (status === 'cancelled') await cards.changeStatus('cancel', change(held.cardUid));
    if (status === 'replaced') {
      await cards.replace({ ...change(held.cardUid), newCardUid: newCardUid(), replacementReason: 'defective' });
    }
    expect((await cards.getCard(held.cardUid)).status).toBe(status);
    return held;
  }

  /** Applies any action; replace needs a new card (free here: defective). */
  function act(action: CardAction, input: CardChangeInput, replacementUid: string) {
    return action === 'replace'
      ? cards.replace({ ...input, newCardUid: replacementUid, replacementReason: 'defective' })
      : cards.changeStatus(action as StatusAction, input);
  }

  const LIFECYCLE: Record<CardStatus, Partial<Record<CardAction, CardStatus>>> = {
    active: { report_loss: 'lost', freeze: 'frozen', replace: 'replaced', cancel: 'cancelled' },
    lost: { cancel_loss: 'active', replace: 'replaced', cancel: 'cancelled' },
    frozen: { unfreeze: 'active', cancel: 'cancelled' },
    cancelled: {},
    replaced: {},
  };

  describe('every state × action', () => {
    const cases = CARD_STATUSES.flatMap((status) => CARD_ACTIONS.map((action) => [status, action, LIFECYCLE[status][action] ?? null] as const));

    it.each(cases)('%s + %s → %s', async (status, action, expected) => {
      const { cardUid, memberId } = await cardIn(status);
      const input = change(cardUid);
      const replacementUid = newCardUid();
      if (expected === null) {
        const before = await snapshot(db, cardUid, memberId);
        const error = await refusal(act(action, input, replacementUid));
        expect(error.code).toBe('CARD_INVALID_STATE');
        expect(error.message).toMatch(/^此卡.+ \/ This card is /);
        expect(await snapshot(db, cardUid, memberId)).toEqual(before);
        return;
      }
      const done = await act(action, input, replacementUid);
      expect(done).toMatchObject({ replay: false, card: { cardUid, status: expected } });
      const [event] = await cards.events(cardUid);
      expect(event).toMatchObject({ action, fromStatus: status, toStatus: expected, actor: manager, reason: input.reason });
      // The same request again: the first result, nothing new.
      expect(await act(action, input, replacementUid)).toEqual({ ...done, replay: true });
    });
  });

  it('a replay returns the first result and changes nothing; another request under the key is a conflict', async () => {
    const { cardUid, memberId } = await memberWithCard();
    const input = change(cardUid);
    const first = await cards.changeStatus('report_loss', input);
    const before = await snapshot(db, cardUid, memberId);
    expect(await cards.changeStatus('report_loss', input)).toEqual({ ...first, replay: true });
    expect(await snapshot(db, cardUid, memberId)).toEqual(before);
    expect((await refusal(cards.changeStatus('cancel_loss', input))).code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await refusal(cards.changeStatus('report_loss', { ...input, reason: 'other' }))).code).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('concurrent retries of one loss report apply it once', async () => {
    const { cardUid } = await memberWithCard();
    const input = change(cardUid);
    const results = await Promise.all(Array.from({ length: 5 }, () => cards.changeStatus('report_loss', input)));
    expect(results.filter((r) => !r.replay)).toHaveLength(1);
    expect(await cards.events(cardUid)).toHaveLength(1);
  });

  it('refuses performers the rules do not allow, and nothing changes', async () => {
    const { cardUid, memberId } = await memberWithCard();
    const before = await snapshot(db, cardUid, memberId);
    const freeze = await refusal(cards.changeStatus('freeze', change(cardUid, { actor: cashier, by: 'cashier' })));
    expect(freeze.code).toBe('FORBIDDEN');
    expect(freeze.message).toBe('您无权冻结，请联系门店店长 / You may not freeze a card; please ask a store manager');
    expect((await refusal(cards.changeStatus('report_loss', change(cardUid, { actor: cashier, by: 'technician' })))).code).toBe('FORBIDDEN');
    expect(await snapshot(db, cardUid, memberId)).toEqual(before);
    // The member may report their own card lost, but not undo it.
    const self: Actor = { type: 'member', id: memberId };
    await cards.changeStatus('report_loss', change(cardUid, { actor: self, by: 'member' }));
    expect((await refusal(cards.changeStatus('cancel_loss', change(cardUid, { actor: self, by: 'member' })))).code).toBe('FORBIDDEN');
  });

  it('refuses bad input before touching anything', async () => {
    const { cardUid, memberId } = await memberWithCard();
    const before = await snapshot(db, cardUid, memberId);
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => cards.changeStatus('report_loss', change('xyz')), 'INVALID_CARD_UID'],
      [() => cards.changeStatus('report_loss', change(newCardUid())), 'CARD_NOT_FOUND'],
      [() => cards.changeStatus('report_loss', change(cardUid, { reason: '  ' })), 'INVALID_INPUT'],
      [() => cards.changeStatus('report_loss', change(cardUid, { idempotencyKey: 'short' })), 'INVALID_INPUT'],
      [() => cards.changeStatus('report_loss', change(cardUid, { by: 'member' })), 'INVALID_INPUT'],
      [() => cards.changeStatus('report_loss', change(cardUid, { actor: { type: 'member', id: memberId } })), 'INVALID_INPUT'],
      [() => cards.changeStatus('replace' as StatusAction, change(cardUid)), 'INVALID_INPUT'],
      [() => cards.replace({ ...change(cardUid), newCardUid: '12', replacementReason: 'lost' }), 'INVALID_CARD_UID'],
      [() => cards.replace({ ...change(cardUid), newCardUid: newCardUid(), replacementReason: 'stolen' as 'lost' }), 'INVALID_INPUT'],
      [() => cards.replace({ ...change(cardUid), newCardUid: newCardUid(), newCardNumber: '123', replacementReason: 'lost' }), 'INVALID_CARD_NUMBER'],
      [() => cards.replace({ ...change(cardUid), newCardUid: cardUid, replacementReason: 'defective' }), 'CARD_ALREADY_BOUND'],
      [() => cards.chargeFee({ ...change(cardUid), kind: 'replacement' as 'joining' }), 'INVALID_INPUT'],
      [() => cards.chargeFee({ ...change(cardUid), kind: 'annual', asOf: new Date(Number.NaN) }), 'INVALID_INPUT'],
      [() => cards.issueSupplementary({ ...change(newCardUid()), memberId, primaryCardUid: cardUid, holderName: '' }), 'INVALID_INPUT'],
      [() => cards.issueSupplementary({ ...change(newCardUid()), memberId, primaryCardUid: cardUid, holderName: 'Han', dailyLimitFen: 0.5 }), 'INVALID_AMOUNT'],
      [() => cards.issueSupplementary({ ...change(newCardUid()), memberId: 'nobody', primaryCardUid: cardUid, holderName: 'Han' }), 'MEMBER_NOT_FOUND'],
    ];
    for (const [attempt, code] of cases) expect((await refusal(attempt())).code).toBe(code);
    expect(await snapshot(db, cardUid, memberId)).toEqual(before);
  });

  describe('replacement', () => {
    it('moves the balances with the member, charges the fee once (principal first, then bonus) and re-links supplementary cards', async () => {
      const { memberId, cardUid } = await memberWithCard({ topUpFen: 10_000 });
      await ledger.payWithStoredValue({ idempotencyKey: key('pay'), memberId, amountFen: 9_000, actor: cashier });
      const supplementary = newCardUid();
      await cards.issueSupplementary({ ...change(supplementary), memberId, primaryCardUid: cardUid, holderName: '韩梅梅 Han Meimei', dailyLimitFen: 5_000 });
      await ledger.topUpCash({ idempotencyKey: key('top'), memberId, amountFen: 1_000, actor: cashier });
      // Principal ¥10 + bonus ¥20 left; the ¥20 replacement fee takes the ¥10 principal first, then ¥10 of bonus.
      expect((await ledger.getMember(memberId)).balances).toEqual({ principalFen: 1_000, bonusFen: 2_000, points: 0 });
      await cards.changeStatus('report_loss', change(cardUid));

      const newUid = newCardUid();
      const number = newCardNumber();
      const input = { ...change(cardUid, { actor: cashier, by: 'cashier' as const }), newCardUid: newUid, newCardNumber: number, replacementReason: 'lost' as const };
      const replaced = await cards.replace(input);
      expect(replaced).toMatchObject({
        replay: false,
        card: { cardUid, status: 'replaced', replacedByCardUid: newUid },
        replacement: { cardUid: newUid, cardNumber: number, memberId, type: 'personal', status: 'active' },
        relinkedCardUids: [supplementary],
        fee: { kind: 'replacement', scheduledFen: 2_000, amountFen: 2_000, period: 'once', cardUid },
        member: { memberId, cardUid: newUid, balances: { principalFen: 0, bonusFen: 1_000, points: 0 } },
      });
      const after = await memberByCard(db, ledger, newUid);
      expect(after).toMatchObject({ memberId, cardUid: newUid, balances: { principalFen: 0, bonusFen: 1_000 } });
      expect(await memberByCardNumber(db, ledger, number)).toMatchObject({ memberId, cardUid: newUid });
      expect((await cards.getCard(supplementary)).primaryCardUid).toBe(newUid);
      expect((await cards.events(supplementary))[0]).toMatchObject({ action: 'relink', relatedCardUid: newUid });
      expect((await cards.events(newUid))[0]).toMatchObject({ action: 'issue', toStatus: 'active', relatedCardUid: cardUid });

      // Retried (the clerk pressed twice): the first result, the fee is not charged again.
      const counts = await rowCounts(db);
      expect(await cards.replace(input)).toEqual({ ...replaced, replay: true });
      expect(await rowCounts(db)).toEqual(counts);
      const fees = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ledger_transactions WHERE member_id = $1 AND kind = 'card_fee'`,
        [memberId],
      );
      expect(fees.rows[0]!.n).toBe(2); // the supplementary card's joining fee and this one
      expect((await ledger.getMember(memberId)).balances).toEqual({ principalFen: 0, bonusFen: 1_000, points: 0 });
      await expectLedgerConsistent(db);
    });

    it('concurrent retries of one replacement charge the fee exactly once', async () => {
      const { memberId, cardUid } = await memberWithCard({ topUpFen: 5_000 });
      const input = { ...change(cardUid), newCardUid: newCardUid(), replacementReason: 'damaged' as const };
      const results = await Promise.all(Array.from({ length: 5 }, () => cards.replace(input)));
      expect(results.filter((r) => !r.replay)).toHaveLength(1);
      for (const r of results) expect(r.replacement!.cardUid).toBe(input.newCardUid);
      expect((await ledger.getMember(memberId)).balances.principalFen).toBe(3_000);
      await expectLedgerConsistent(db);
    });

    it('is refused with nothing changed when stored value cannot pay the fee; free for VIP and defective cards', async () => {
      const poor = await memberWithCard({ topUpFen: 1_000 });
      await cards.changeStatus('report_loss', change(poor.cardUid));
      const before = await snapshot(db, poor.cardUid, poor.memberId);
      const error = await refusal(cards.replace({ ...change(poor.cardUid), newCardUid: newCardUid(), replacementReason: 'lost' }));
      expect(error.code).toBe('INSUFFICIENT_BALANCE');
      expect(await snapshot(db, poor.cardUid, poor.memberId)).toEqual(before);

      const vip = await memberWithCard({ type: 'vip' });
      const free = await cards.replace({ ...change(vip.cardUid), newCardUid: newCardUid(), replacementReason: 'lost' });
      expect(free.fee).toEqual({ kind: 'replacement', scheduledFen: 2_000, amountFen: 0, waivedBy: 'vip_card', cardUid: vip.cardUid, period: 'once' });
      const defective = await cards.replace({ ...change(poor.cardUid), newCardUid: newCardUid(), replacementReason: 'defective' });
      expect(defective.fee).toMatchObject({ amountFen: 0, waivedBy: 'defective_card' });
      expect(defective.member.balances.principalFen).toBe(1_000);
    });
  });

  describe('blocked cards', () => {
    it('a lost card is refused at lookup and at payment; credits still land; cancelling the loss restores it', async () => {
      const number = newCardNumber();
      const { memberId, cardUid } = await memberWithCard({ topUpFen: 5_000, cardNumber: number });
      await cards.changeStatus('report_loss', change(cardUid));
      // Each lookup starts only when awaited: a refusal created earlier would be an unhandled rejection meanwhile.
      for (const lookup of [() => memberByCard(db, ledger, cardUid), () => memberByCardNumber(db, ledger, number)]) {
        const error = await refusal(lookup());
        expect(error.code).toBe('CARD_LOST');
        expect(error.message).toBe('此卡已挂失，请联系门店 / This card is reported lost, please ask staff');
      }
      const before = await rowCounts(db);
      const pay = (amountFen: number) => ledger.payWithStoredValue({ idempotencyKey: key('pay'), memberId, cardUid, amountFen, actor: cashier });
      expect((await refusal(pay(100))).code).toBe('CARD_LOST');
      const redeem = ledger.redeemPoints({ idempotencyKey: key('redeem'), memberId, cardUid, points: 1, item: 'coffee', actor: cashier });
      expect((await refusal(redeem)).code).toBe('CARD_LOST');
      expect(await rowCounts(db)).toEqual(before);
      // Cash a kiosk took before it heard of the loss is still credited.
      const topUp = await ledger.topUpCash({ idempotencyKey: key('top'), memberId, cardUid, amountFen: 100, actor: { type: 'device', id: 'K-001' } });
      expect(topUp.member.balances.principalFen).toBe(5_100);

      await cards.changeStatus('cancel_loss', change(cardUid, { actor: cashier, by: 'cashier' }));
      expect((await pay(100)).member.balances.principalFen).toBe(5_000);
      expect(await memberByCard(db, ledger, cardUid)).toMatchObject({ memberId });
    });

    it.each([
      ['freeze', 'CARD_FROZEN', '此卡已冻结，请联系门店 / This card is frozen, please ask staff'],
      ['cancel', 'CARD_INVALID_STATE', '此卡已注销，不能使用 / This card has been cancelled and cannot be used'],
    ] as const)('after %s the card is refused with %s', async (action, code, message) => {
      const { cardUid } = await memberWithCard();
      await cards.changeStatus(action, change(cardUid));
      const error = await refusal(memberByCard(db, ledger, cardUid));
      expect({ code: error.code, message: error.message }).toEqual({ code, message });
    });

    it('a replaced card is refused and points to the new one', async () => {
      const { cardUid } = await cardIn('replaced');
      expect((await refusal(memberByCard(db, ledger, cardUid))).message).toBe('此卡已换新卡，请使用新卡 / This card has been replaced, please use the new card');
    });
  });

  describe('supplementary cards', () => {
    it("pay from the primary member's balances, within their daily limit", async () => {
      const { memberId, cardUid } = await memberWithCard({ topUpFen: 20_000 });
      const supplementary = newCardUid();
      const issued = await cards.issueSupplementary({ ...change(supplementary), memberId, primaryCardUid: cardUid, holderName: '韩梅梅', dailyLimitFen: 5_000 });
      expect(issued).toMatchObject({
        card: { cardUid: supplementary, type: 'supplementary', primaryCardUid: cardUid, holderName: '韩梅梅', dailyLimitFen: 5_000, status: 'active' },
        fee: { kind: 'joining', amountFen: 1_000 },
        member: { balances: { principalFen: 19_000, bonusFen: 2_000 } },
      });
      expect(await memberByCard(db, ledger, supplementary)).toMatchObject({ memberId, cardUid: supplementary });

      const pay = (amountFen: number, card = supplementary) =>
        ledger.payWithStoredValue({ idempotencyKey: key('pay'), memberId, cardUid: card, amountFen, actor: cashier });
      expect((await pay(3_000)).member.balances.principalFen).toBe(16_000);
      const before = await rowCounts(db);
      const over = await refusal(pay(2_001));
      expect(over.code).toBe('CARD_DAILY_LIMIT_EXCEEDED');
      expect(over.message).toBe('此卡每日限额¥50.00，今日还可消费¥20.00 / This card may spend ¥50.00 a day; ¥20.00 is left today');
      expect(await rowCounts(db)).toEqual(before);
      expect((await pay(2_000)).member.balances.principalFen).toBe(14_000); // exactly up to the limit
      expect((await refusal(pay(1))).code).toBe('CARD_DAILY_LIMIT_EXCEEDED');
      // The primary card has no limit.
      expect((await pay(6_000, cardUid)).member.balances.principalFen).toBe(8_000);
      await expectLedgerConsistent(db);
    });

    it('need a usable primary of the same member; a primary with them cannot be cancelled', async () => {
      const { memberId, cardUid } = await memberWithCard({ topUpFen: 10_000 });
      const other = await memberWithCard();
      const issue = (primaryCardUid: string, member = memberId) =>
        cards.issueSupplementary({ ...change(newCardUid()), memberId: member, primaryCardUid, holderName: 'Han' });
      expect((await refusal(issue(other.cardUid))).code).toBe('CARD_NOT_FOUND');
      const supplementary = await issue(cardUid);
      expect((await refusal(issue(supplementary.card.cardUid))).code).toBe('CARD_INVALID_STATE');
      const cancel = await refusal(cards.changeStatus('cancel', change(cardUid)));
      expect(cancel.message).toContain('cancel them first');
      await cards.changeStatus('cancel', change(supplementary.card.cardUid));
      await cards.changeStatus('cancel', change(cardUid));
      const lost = await memberWithCard({ topUpFen: 10_000 });
      await cards.changeStatus('report_loss', change(lost.cardUid));
      expect((await refusal(issue(lost.cardUid, lost.memberId))).code).toBe('CARD_LOST');
    });
  });

  describe('fees', () => {
    it('a joining fee is charged once; an annual fee once per year; VIP annual fee waived without a ledger entry', async () => {
      const group = await memberWithCard({ type: 'group', topUpFen: 20_000 });
      const joining = await cards.chargeFee({ ...change(group.cardUid), kind: 'joining' });
      expect(joining.fee).toMatchObject({ kind: 'joining', amountFen: 5_000, period: 'once' });
      expect(joining.fee!.txId).toEqual(expect.any(String));
      const twice = await refusal(cards.chargeFee({ ...change(group.cardUid), kind: 'joining' }));
      expect(twice).toMatchObject({ code: 'CONFLICT', message: '此卡的开卡费已收取 / The joining fee of this card was already charged' });
      const annual = await cards.chargeFee({ ...change(group.cardUid), kind: 'annual' });
      expect(annual.fee).toMatchObject({ kind: 'annual', amountFen: 10_000, period: String(localDateOf(new Date(), 'Asia/Shanghai').year) });
      expect(annual.member.balances).toMatchObject({ principalFen: 5_000, bonusFen: 2_000 });
      expect((await refusal(cards.chargeFee({ ...change(group.cardUid), kind: 'annual' }))).code).toBe('CONFLICT');

      const vip = await memberWithCard({ type: 'vip' });
      const waived = await cards.chargeFee({ ...change(vip.cardUid), kind: 'annual' });
      expect(waived.fee).toMatchObject({ amountFen: 0, scheduledFen: 20_000, waivedBy: 'vip_card' });
      expect(waived.fee!.txId).toBeUndefined();
      await expectLedgerConsistent(db);
    });

    it('an unaffordable fee changes nothing', async () => {
      const group = await memberWithCard({ type: 'group' });
      const before = await snapshot(db, group.cardUid, group.memberId);
      expect((await refusal(cards.chargeFee({ ...change(group.cardUid), kind: 'joining' }))).code).toBe('INSUFFICIENT_BALANCE');
      expect(await snapshot(db, group.cardUid, group.memberId)).toEqual(before);
    });

    it('an annual fee is for the local year of asOf at the store (the job passes its run instant)', async () => {
      const group = await memberWithCard({ type: 'group', topUpFen: 30_000 });
      // 16:30 UTC on New Year's Eve is already 00:30 on 1 January in Shanghai.
      const newYear = await cards.chargeFee({ ...change(group.cardUid), kind: 'annual', asOf: new Date('2030-12-31T16:30:00Z') });
      expect(newYear.fee).toMatchObject({ kind: 'annual', amountFen: 10_000, period: '2031' });
      const eve = await cards.chargeFee({ ...change(group.cardUid), kind: 'annual', asOf: new Date('2030-12-31T15:59:59Z') });
      expect(eve.fee).toMatchObject({ period: '2030' });
      expect((await refusal(cards.chargeFee({ ...change(group.cardUid), kind: 'annual', asOf: new Date('2031-06-30T00:00:00Z') }))).code).toBe('CONFLICT');
    });

    it('reads the schedule from its source at each change; a retry after the schedule changed replays the first fee', async () => {
      let schedule: CardFeeSchedule = DEFAULT_CARD_FEE_SCHEDULE;
      const priced = new CardService(db, ledger, { feeSchedule: async () => schedule });
      const first = await memberWithCard({ topUpFen: 20_000 });
      const request = { ...change(first.cardUid), newCardUid: newCardUid(), replacementReason: 'lost' as const };
      const replaced = await priced.replace(request);
      expect(replaced.fee).toMatchObject({ scheduledFen: 2_000, amountFen: 2_000 });

      schedule = { ...DEFAULT_CARD_FEE_SCHEDULE, personal: { joining: 0, annual: 0, replacement: 3_300 } };
      expect(await priced.replace(request)).toEqual({ ...replaced, replay: true });
      expect((await ledger.getMember(first.memberId)).balances.principalFen).toBe(18_000);
      const second = await memberWithCard({ topUpFen: 20_000 });
      const repriced = await priced.replace({ ...change(second.cardUid), newCardUid: newCardUid(), replacementReason: 'damaged' });
      expect(repriced.fee).toMatchObject({ scheduledFen: 3_300, amountFen: 3_300 });
      expect(repriced.member.balances.principalFen).toBe(16_700);
      await expectLedgerConsistent(db);
    });

    it('refuses a bad schedule: a fixed one when the service is made, one read from a source before anything changes', async () => {
      const bad = { ...DEFAULT_CARD_FEE_SCHEDULE, group: { joining: -1, annual: 0, replacement: 0 } };
      expect(() => new CardService(db, ledger, { feeSchedule: bad })).toThrow(RuleSetError);
      const sourced = new CardService(db, ledger, { feeSchedule: async () => bad });
      const group = await memberWithCard({ type: 'group', topUpFen: 10_000 });
      const before = await snapshot(db, group.cardUid, group.memberId);
      await expect(sourced.chargeFee({ ...change(group.cardUid), kind: 'joining' })).rejects.toThrow(/group\.joining: must be a whole number of fen/);
      expect(await snapshot(db, group.cardUid, group.memberId)).toEqual(before);
    });
  });
});

describe('card routes (REST, PGlite)', () => {
  const rest = useRestApi(() => databases.open('pglite'));
  const { send: call } = rest;

  async function memberWithCard(amountFen: number) {
    const manager = rest.org.tokens.xuhui.manager;
    const member = (await call('POST', '/members', manager, { name: 'Li Lei' })).json();
    const cardUid = newCardUid();
    expect((await call('POST', `/members/${member.memberId}/cards`, manager, { cardUid })).statusCode).toBe(201);
    expect((await call('POST', `/members/${member.memberId}/topups`, manager, { idempotencyKey: key(), amountFen })).statusCode).toBe(201);
    return { memberId: member.memberId as string, cardUid };
  }

  it('report loss → the kiosk lookup refuses the card; a cashier cancels the loss; every change names the operator and reason', async () => {
    const { cardUid, memberId } = await memberWithCard(5_000);
    const body = { idempotencyKey: key(), reason: '会员电话挂失 member phoned' };
    const lost = await call('POST', `/cards/${cardUid}/loss`, rest.org.tokens.xuhui.cashier, body);
    expect(lost.statusCode).toBe(201);
    expect(lost.json()).toMatchObject({ replay: false, card: { cardUid, status: 'lost' }, member: { memberId } });
    expect((await call('POST', `/cards/${cardUid}/loss`, rest.org.tokens.xuhui.cashier, body)).statusCode).toBe(200);

    const lookup = await call('GET', `/cards/${cardUid}/member`, rest.org.tokens.xuhui.cashier);
    expect(lookup.statusCode).toBe(409);
    expect(lookup.json()).toEqual({ error: { code: 'CARD_LOST', message: '此卡已挂失，请联系门店 / This card is reported lost, please ask staff' } });

    const restored = await call('DELETE', `/cards/${cardUid}/loss`, rest.org.tokens.xuhui.cashier, { idempotencyKey: key(), reason: 'card found' });
    expect(restored.statusCode).toBe(201);
    expect(restored.json().card.status).toBe('active');

    const events = await call('GET', `/cards/${cardUid}/events`, rest.org.tokens.xuhui.manager);
    expect(events.statusCode).toBe(200);
    expect(events.json().events).toMatchObject([
      { action: 'cancel_loss', fromStatus: 'lost', toStatus: 'active', reason: 'card found', actor: { type: 'operator', id: rest.org.operatorIds.xuhui.cashier } },
      { action: 'report_loss', fromStatus: 'active', toStatus: 'lost', reason: body.reason, actor: { type: 'operator', id: rest.org.operatorIds.xuhui.cashier } },
    ]);
  });

  it('roles and scope: a cashier cannot freeze, a technician cannot touch cards, another store gets 403, no token 401', async () => {
    const { cardUid } = await memberWithCard(1_000);
    const body = () => ({ idempotencyKey: key(), reason: 'dispute' });
    const cashier = await call('POST', `/cards/${cardUid}/freeze`, rest.org.tokens.xuhui.cashier, body());
    expect(cashier.statusCode).toBe(403);
    expect(cashier.json().error.code).toBe('FORBIDDEN');
    expect((await call('POST', `/cards/${cardUid}/loss`, rest.org.tokens.xuhui.technician, body())).statusCode).toBe(403);
    expect((await call('POST', `/cards/${cardUid}/freeze`, rest.org.tokens.jingan.manager, body())).statusCode).toBe(403);
    expect((await call('GET', `/cards/${cardUid}/events`, rest.org.tokens.tianhe.admin)).statusCode).toBe(403);
    expect((await call('POST', `/cards/${cardUid}/freeze`, undefined, body())).statusCode).toBe(401);
    expect((await call('POST', `/cards/${cardUid}/freeze`, rest.org.tokens.east.manager, body())).statusCode).toBe(201);
    expect((await call('POST', `/cards/${cardUid}/unfreeze`, rest.org.tokens.hq.admin, body())).statusCode).toBe(201);
  });

  it('bad bodies are refused with 400 and change nothing', async () => {
    const { cardUid, memberId } = await memberWithCard(1_000);
    const before = await snapshot(rest.db, cardUid, memberId);
    const token = rest.org.tokens.xuhui.manager;
    const bad: Array<[string, string, object]> = [
      ['POST', `/cards/${cardUid}/loss`, { idempotencyKey: key() }],
      ['POST', `/cards/${cardUid}/loss`, { idempotencyKey: key(), reason: '' }],
      ['POST', `/cards/${cardUid}/loss`, { idempotencyKey: 'short', reason: 'x' }],
      ['POST', `/cards/${cardUid}/loss`, { idempotencyKey: key(), reason: 'x', extra: 1 }],
      ['POST', `/cards/nothex!/loss`, { idempotencyKey: key(), reason: 'x' }],
      ['POST', `/cards/${cardUid}/replace`, { idempotencyKey: key(), reason: 'x', newCardUid: newCardUid(), replacementReason: 'stolen' }],
      ['POST', `/cards/${cardUid}/fees`, { idempotencyKey: key(), reason: 'x', kind: 'replacement' }],
      ['POST', `/members/${memberId}/supplementary-cards`, { idempotencyKey: key(), reason: 'x', primaryCardUid: cardUid, cardUid: newCardUid(), holderName: 'H', dailyLimitFen: 0 }],
    ];
    for (const [method, url, payload] of bad) {
      const reply = await call(method as 'POST', url, token, payload);
      expect([reply.statusCode, url]).toEqual([400, url]);
    }
    expect((await call('POST', `/cards/${newCardUid()}/loss`, token, { idempotencyKey: key(), reason: 'x' })).statusCode).toBe(404);
    expect(await snapshot(rest.db, cardUid, memberId)).toEqual(before);
  });

  it('each refusal answers the code its route declares, in Chinese and English, and changes nothing', async () => {
    const manager = rest.org.tokens.xuhui.manager;
    const { cardUid, memberId } = await memberWithCard(1_000);
    const other = await memberWithCard(1_000);
    const broke = (await call('POST', '/members', manager, { name: 'Broke Bai' })).json().memberId as string;
    const groupUid = newCardUid();
    expect((await call('POST', `/members/${broke}/cards`, manager, { cardUid: groupUid, type: 'group' })).statusCode).toBe(201);
    const lostUid = newCardUid();
    expect((await call('POST', `/members/${memberId}/cards`, manager, { cardUid: lostUid })).statusCode).toBe(201);
    expect((await call('POST', `/cards/${lostUid}/loss`, manager, { idempotencyKey: key(), reason: 'lost' })).statusCode).toBe(201);
    const frozenUid = newCardUid();
    const frozenNumber = newCardNumber();
    expect((await call('POST', `/members/${memberId}/cards`, manager, { cardUid: frozenUid, cardNumber: frozenNumber })).statusCode).toBe(201);
    expect((await call('POST', `/cards/${frozenUid}/freeze`, manager, { idempotencyKey: key(), reason: 'dispute' })).statusCode).toBe(201);
    const supplementaryUid = newCardUid();
    const supplementary = { idempotencyKey: key(), reason: 'for spouse', primaryCardUid: cardUid, cardUid: supplementaryUid, holderName: '韩梅梅' };
    expect((await call('POST', `/members/${memberId}/supplementary-cards`, manager, supplementary)).statusCode).toBe(201);
    const usedKey = key();
    expect((await call('POST', `/cards/${cardUid}/fees`, manager, { idempotencyKey: usedKey, reason: 'joining', kind: 'joining' })).statusCode).toBe(201);

    const change = (extra: object = {}) => ({ idempotencyKey: key(), reason: 'why', ...extra });
    const issue = (extra: object) => change({ primaryCardUid: cardUid, cardUid: newCardUid(), holderName: 'Holder', ...extra });
    const cases: Array<[string, 'GET' | 'POST' | 'DELETE', string, object | undefined, number, string]> = [
      ['a blank reason', 'POST', `/cards/${cardUid}/freeze`, change({ reason: '   ' }), 400, 'INVALID_INPUT'],
      ['a key used for another change', 'POST', `/cards/${cardUid}/freeze`, change({ idempotencyKey: usedKey }), 409, 'IDEMPOTENCY_CONFLICT'],
      ['an active card unfrozen', 'POST', `/cards/${cardUid}/unfreeze`, change(), 409, 'CARD_INVALID_STATE'],
      ['a loss cancelled that was never reported', 'DELETE', `/cards/${cardUid}/loss`, change(), 409, 'CARD_INVALID_STATE'],
      ['a replacement already registered', 'POST', `/cards/${cardUid}/replace`, change({ newCardUid: other.cardUid, replacementReason: 'defective' }), 409, 'CARD_ALREADY_BOUND'],
      ['a replacement number that is not 16 digits', 'POST', `/cards/${cardUid}/replace`, change({ newCardUid: newCardUid(), newCardNumber: '1234', replacementReason: 'damaged' }), 400, 'INVALID_CARD_NUMBER'],
      ['a replacement fee the balance cannot pay', 'POST', `/cards/${groupUid}/replace`, change({ newCardUid: newCardUid(), replacementReason: 'lost' }), 409, 'INSUFFICIENT_BALANCE'],
      ['a fee charged already', 'POST', `/cards/${cardUid}/fees`, change({ kind: 'joining' }), 409, 'CONFLICT'],
      ['an annual fee the balance cannot pay', 'POST', `/cards/${groupUid}/fees`, change({ kind: 'annual' }), 409, 'INSUFFICIENT_BALANCE'],
      ['a primary card of another member', 'POST', `/members/${memberId}/supplementary-cards`, issue({ primaryCardUid: other.cardUid }), 404, 'CARD_NOT_FOUND'],
      ['a lost primary card', 'POST', `/members/${memberId}/supplementary-cards`, issue({ primaryCardUid: lostUid }), 409, 'CARD_LOST'],
      ['a frozen primary card', 'POST', `/members/${memberId}/supplementary-cards`, issue({ primaryCardUid: frozenUid }), 409, 'CARD_FROZEN'],
      ['a supplementary card as primary', 'POST', `/members/${memberId}/supplementary-cards`, issue({ primaryCardUid: supplementaryUid }), 409, 'CARD_INVALID_STATE'],
      ['a supplementary card already registered', 'POST', `/members/${other.memberId}/supplementary-cards`, issue({ primaryCardUid: other.cardUid, cardUid }), 409, 'CARD_ALREADY_BOUND'],
      ['a malformed supplementary UID', 'POST', `/members/${memberId}/supplementary-cards`, issue({ cardUid: 'nothex!' }), 400, 'INVALID_CARD_UID'],
      ['a blank holder name', 'POST', `/members/${memberId}/supplementary-cards`, issue({ holderName: '  ' }), 400, 'INVALID_INPUT'],
      ['a card of another member bound', 'POST', `/members/${memberId}/cards`, { cardUid: other.cardUid }, 409, 'CARD_ALREADY_BOUND'],
      ['a malformed UID bound', 'POST', `/members/${memberId}/cards`, { cardUid: 'nothex!' }, 400, 'INVALID_CARD_UID'],
      ['a malformed card number bound', 'POST', `/members/${memberId}/cards`, { cardUid: newCardUid(), cardNumber: '12' }, 400, 'INVALID_CARD_NUMBER'],
      ['a frozen card looked up by number', 'GET', `/card-numbers/${frozenNumber}/member`, undefined, 409, 'CARD_FROZEN'],
      ['a malformed card number looked up', 'GET', '/card-numbers/12/member', undefined, 400, 'INVALID_CARD_NUMBER'],
      ['a malformed UID looked up', 'GET', '/cards/nothex!/member', undefined, 400, 'INVALID_CARD_UID'],
      ['an unknown card looked up', 'GET', `/cards/${newCardUid()}/member`, undefined, 404, 'CARD_NOT_FOUND'],
    ];
    const before = await Promise.all([snapshot(rest.db, cardUid, memberId), rowCounts(rest.db)]);
    for (const [label, method, url, payload, status, code] of cases) {
      const reply = await call(method, url, manager, payload);
      expect([label, reply.statusCode, reply.json().error?.code]).toEqual([label, status, code]);
      // "中文 / English": a clerk reads the first half, anyone else the second.
      expect(reply.json().error.message, label).toMatch(/\p{Script=Han}.* \/ \S/u);
    }
    expect(await Promise.all([snapshot(rest.db, cardUid, memberId), rowCounts(rest.db)])).toEqual(before);
  });

  it('replacement and supplementary cards over REST; the fee is charged once on replay', async () => {
    const { cardUid, memberId } = await memberWithCard(10_000);
    const token = rest.org.tokens.xuhui.cashier;
    const supplementaryUid = newCardUid();
    const issued = await call('POST', `/members/${memberId}/supplementary-cards`, token, {
      idempotencyKey: key(),
      reason: 'for spouse',
      primaryCardUid: cardUid,
      cardUid: supplementaryUid,
      holderName: '韩梅梅',
      dailyLimitFen: 3_000,
    });
    expect(issued.statusCode).toBe(201);
    expect(issued.json()).toMatchObject({ card: { type: 'supplementary', primaryCardUid: cardUid }, fee: { amountFen: 1_000 }, member: { balances: { principalFen: 9_000 } } });

    const replace = { idempotencyKey: key(), reason: 'card broke', newCardUid: newCardUid(), replacementReason: 'damaged' };
    const first = await call('POST', `/cards/${cardUid}/replace`, token, replace);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ relinkedCardUids: [supplementaryUid], fee: { amountFen: 2_000 }, member: { cardUid: replace.newCardUid, balances: { principalFen: 7_000 } } });
    const again = await call('POST', `/cards/${cardUid}/replace`, token, replace);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...first.json(), replay: true });
    expect((await call('GET', `/cards/${replace.newCardUid}/member`, token)).json().balances.principalFen).toBe(7_000);
    expect((await call('GET', `/cards/${supplementaryUid}`, token)).json().primaryCardUid).toBe(replace.newCardUid);
    await expectLedgerConsistent(rest.db);
  });

  it('fees are charged by the published program rules: a new schedule applies to the next change; a set without card fees means the defaults', async () => {
    const { cardUid, memberId } = await memberWithCard(10_000);
    const cashier = rest.org.tokens.xuhui.cashier;
    const admin = rest.org.tokens.hq.admin;
    const cardFees = { ...DEFAULT_CARD_FEE_SCHEDULE, personal: { joining: 0, annual: 0, replacement: 1_500 } };
    expect((await call('PUT', '/program/rules', admin, { rules: { ...DEFAULT_PROGRAM_RULES, cardFees }, reason: '补卡费降至¥15 replacement ¥15' })).statusCode).toBe(201);
    const replace = { idempotencyKey: key(), reason: 'lost on the bus', newCardUid: newCardUid(), replacementReason: 'lost' };
    const replaced = await call('POST', `/cards/${cardUid}/replace`, cashier, replace);
    expect(replaced.statusCode).toBe(201);
    expect(replaced.json()).toMatchObject({ fee: { scheduledFen: 1_500, amountFen: 1_500 }, member: { memberId, balances: { principalFen: 8_500 } } });

    const bad = await call('PUT', '/program/rules', admin, { rules: { ...DEFAULT_PROGRAM_RULES, cardFees: { ...cardFees, vip: { joining: 0, annual: -5, replacement: 0 } } }, reason: 'typo' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'RULES_INVALID', message: expect.stringContaining('cardFees: vip.annual: must be a whole number of fen ≥ 0, got -5') });

    // A rule set as published before card fees were part of the program (no cardFees): the default price list.
    const { cardFees: _none, ...withoutCardFees } = DEFAULT_PROGRAM_RULES;
    expect((await call('PUT', '/program/rules', admin, { rules: withoutCardFees, reason: 'rules without card fees' })).statusCode).toBe(201);
    const again = await call('POST', `/cards/${replace.newCardUid}/replace`, cashier, { idempotencyKey: key(), reason: 'lost again', newCardUid: newCardUid(), replacementReason: 'lost' });
    expect(again.json()).toMatchObject({ fee: { scheduledFen: 2_000, amountFen: 2_000 }, member: { balances: { principalFen: 6_500 } } });
    // The first replacement's retry is still the same request: its first result, its first fee.
    const retry = await call('POST', `/cards/${cardUid}/replace`, cashier, replace);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual({ ...replaced.json(), replay: true });
    await expectLedgerConsistent(rest.db);
  });

  it('documents every card route in OpenAPI under the "cards" tag', async () => {
    const doc = (await rest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const tagged = Object.entries(doc.paths as Record<string, Record<string, { tags?: string[] }>>).flatMap(([path, ops]) =>
      Object.entries(ops).filter(([, op]) => op.tags?.includes('cards')).map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(tagged.sort()).toEqual(
      [
        'DELETE /api/v1/cards/{cardUid}/loss',
        'GET /api/v1/cards/{cardUid}',
        'GET /api/v1/cards/{cardUid}/events',
        'POST /api/v1/cards/{cardUid}/cancel',
        'POST /api/v1/cards/{cardUid}/fees',
        'POST /api/v1/cards/{cardUid}/freeze',
        'POST /api/v1/cards/{cardUid}/loss',
        'POST /api/v1/cards/{cardUid}/replace',
        'POST /api/v1/cards/{cardUid}/unfreeze',
        'POST /api/v1/members/{memberId}/supplementary-cards',
      ].sort(),
    );
  });
});

describe('a blocked card at the kiosk (hub over MQTT, PGlite)', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await TestHub.create();
    await hub.start();
  });
  afterAll(() => hub?.cleanup());

  it('the kiosk lookup gets the refusal code and the bilingual text, and member updates keep flowing', async () => {
    const { ledger, db, mqttUrl } = hub.running;
    const created = await ledger.createMember({ name: '王五', actor: manager });
    await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04C0FFEE', cardNumber: '6200000000000077', actor: manager });
    const kiosk = await linkKiosk({ mqttUrl }, 'kiosk-cards-1');
    const { link } = kiosk;
    try {
      expect(await link.lookupCard({ cardUid: '04C0FFEE' })).toMatchObject({ found: true });
      await new CardService(db, ledger).changeStatus('report_loss', {
        cardUid: '04C0FFEE',
        idempotencyKey: key('loss'),
        reason: 'member phoned',
        actor: manager,
        by: 'manager',
      });
      const refused = { found: false, code: 'CARD_LOST', message: '此卡已挂失，请联系门店 / This card is reported lost, please ask staff' };
      expect(await link.lookupCard({ cardUid: '04C0FFEE' })).toEqual(refused);
      expect(await link.lookupCard({ cardNumber: '6200000000000077' })).toEqual(refused);

      // The kiosk cached this member under the lost card; another member's change still reaches it.
      const other = await ledger.createMember({ name: '赵六', actor: manager });
      await bindCard(db, ledger, { memberId: other.memberId, cardUid: '04C0FFEF', actor: manager });
      expect(await link.lookupCard({ cardUid: '04C0FFEF' })).toMatchObject({ found: true });
      const updated = new Promise<MemberSnapshot>((resolve) => link.on('member', (member) => member.cardUid === '04C0FFEF' && resolve(member)));
      await ledger.topUpCash({ idempotencyKey: key('top'), memberId: other.memberId, amountFen: 500, actor: cashier });
      expect((await updated).balances.principalFen).toBe(500);
    } finally {
      await kiosk.stop();
    }
  });
});
