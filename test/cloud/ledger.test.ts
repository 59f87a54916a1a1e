import { beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../../cloud/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { refusalOf } from '../../cloud/kernel/errors.ts';
import { Ledger } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import { BACKENDS, expectLedgerConsistent, key, newCardNumber, newCardUid, refusal, rowCounts, useDatabases, testLedger } from './support.ts';
import { memberByCard, memberByCardNumber, bindCard } from '../../cloud/cards/index.ts';

const clerk: Actor = { type: 'operator', id: 'clerk-7' };
const kiosk: Actor = { type: 'device', id: 'K-001' };
const databases = useDatabases();

describe.each(BACKENDS)('ledger on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
  });

  async function memberWithCard(name = 'Li Lei') {
    const member = await ledger.createMember({ name, phone: '138 0013 8000', actor: clerk });
    const cardUid = newCardUid();
    await bindCard(db, ledger, { memberId: member.memberId, cardUid, actor: clerk });
    return { memberId: member.memberId, cardUid };
  }

  it('creates a member with zero balances and no card, then binds and finds a card', async () => {
    const created = await ledger.createMember({ name: '  Han Meimei ', actor: clerk });
    expect(created).toMatchObject({ displayName: 'Han Meimei', tier: 'standard', version: 0 });
    expect(created.balances).toEqual({ principalFen: 0, bonusFen: 0, points: 0 });
    expect(created.cardUid).toBeUndefined();

    const bound = await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04:a2:2b:1c:99:00:11', actor: clerk });
    expect(bound).toMatchObject({ alreadyBound: false, member: { cardUid: '04A22B1C990011', version: 1 } });
    const again = await bindCard(db, ledger, { memberId: created.memberId, cardUid: '04A22B1C990011', actor: clerk });
    expect(again).toMatchObject({ alreadyBound: true, member: { version: 1 } });

    expect(await memberByCard(db, ledger, '04 A2 2B 1C 99 00 11')).toMatchObject({ memberId: created.memberId, cardUid: '04A22B1C990011' });
    expect(await memberByCard(db, ledger, newCardUid())).toBeUndefined();
  });

  it('refuses a card that belongs to someone else, and bad card UIDs', async () => {
    const { cardUid } = await memberWithCard();
    const other = await ledger.createMember({ name: 'Wang', actor: clerk });
    const before = await rowCounts(db);
    expect((await refusal(bindCard(db, ledger, { memberId: other.memberId, cardUid, actor: clerk }))).code).toBe('CARD_ALREADY_BOUND');
    const bad = await refusal(bindCard(db, ledger, { memberId: other.memberId, cardUid: '04A22B1C55', actor: clerk }));
    expect(bad.code).toBe('INVALID_CARD_UID');
    expect(bad.message).not.toContain('04A22B1C55');
    expect((await refusal(memberByCard(db, ledger, 'xyz'))).code).toBe('INVALID_CARD_UID');
    expect(await rowCounts(db)).toEqual(before);
    expect((await ledger.getMember(other.memberId)).version).toBe(0);
  });

  it('binds a card with its card number and finds the member by that number', async () => {
    const created = await ledger.createMember({ name: 'Magstripe Ma', actor: clerk });
    const { memberId } = created;
    const cardUid = newCardUid();
    const cardNumber = newCardNumber();
    const printed = cardNumber.replace(/(\d{4})(?=\d)/g, '$1 ');

    const bound = await bindCard(db, ledger, { memberId, cardUid, cardNumber: printed, actor: clerk });
    expect(bound).toMatchObject({ alreadyBound: false, member: { cardUid, cardNumber, version: 1 } });
    const again = await bindCard(db, ledger, { memberId, cardUid, cardNumber, actor: clerk });
    expect(again).toMatchObject({ alreadyBound: true, member: { cardUid, cardNumber, version: 1 } });
    const withoutNumber = await bindCard(db, ledger, { memberId, cardUid, actor: clerk });
    expect(withoutNumber).toMatchObject({ alreadyBound: true, member: { cardNumber, version: 1 } });

    const byNumber = await memberByCardNumber(db, ledger, printed.replaceAll(' ', '-'));
    expect(byNumber).toMatchObject({ memberId, cardUid, cardNumber, version: 1 });
    expect(await memberByCard(db, ledger, cardUid)).toEqual({ ...byNumber, asOf: expect.any(String) });
    expect(await memberByCardNumber(db, ledger, newCardNumber())).toBeUndefined();

    // A second card without a number: the snapshot always describes the card it was reached by.
    const plainCard = newCardUid();
    const plain = await bindCard(db, ledger, { memberId, cardUid: plainCard, actor: clerk });
    expect(plain.member).toMatchObject({ cardUid: plainCard, version: 2 });
    expect(plain.member.cardNumber).toBeUndefined();
    expect(await memberByCardNumber(db, ledger, cardNumber)).toMatchObject({ cardUid, cardNumber, version: 2 });
    const topUp = await ledger.topUpCash({ idempotencyKey: key(), memberId, cardUid, amountFen: 100, actor: kiosk });
    expect(topUp.member).toMatchObject({ cardUid, cardNumber, version: 3 });
  });

  it('refuses a card number already on another card, a changed number and malformed numbers, changing nothing', async () => {
    const owner = await ledger.createMember({ name: 'Owner', actor: clerk });
    const cardUid = newCardUid();
    const cardNumber = newCardNumber();
    await bindCard(db, ledger, { memberId: owner.memberId, cardUid, cardNumber, actor: clerk });
    const legacy = await memberWithCard('Legacy');
    const other = await ledger.createMember({ name: 'Other', actor: clerk });
    const before = await rowCounts(db);
    const masked = `****${cardNumber.slice(-4)}`;

    const taken = await refusal(bindCard(db, ledger, { memberId: other.memberId, cardUid: newCardUid(), cardNumber, actor: clerk }));
    expect(taken).toMatchObject({ code: 'CARD_ALREADY_BOUND', message: `卡号 ${masked} 已在另一张卡上 / Card number ${masked} is already on another card` });
    const takenBySameMember = await refusal(bindCard(db, ledger, { memberId: owner.memberId, cardUid: newCardUid(), cardNumber, actor: clerk }));
    expect(takenBySameMember.code).toBe('CARD_ALREADY_BOUND');

    const renumbered = await refusal(bindCard(db, ledger, { memberId: owner.memberId, cardUid, cardNumber: newCardNumber(), actor: clerk }));
    expect(renumbered.code).toBe('CARD_ALREADY_BOUND');
    expect(renumbered.message).toMatch(
      new RegExp(`/ Card \\*{4}\\w{4} is already bound to this member with card number \\*{4}${cardNumber.slice(-4)}, not \\*{4}\\d{4}$`),
    );
    const numbered = await refusal(bindCard(db, ledger, { ...legacy, cardNumber: newCardNumber(), actor: clerk }));
    expect(numbered).toMatchObject({ code: 'CARD_ALREADY_BOUND', message: expect.stringContaining('without a card number') });

    const malformed = ['620012341234567', '62001234123456789', '6200A23412345678', '6200.1234.1234.5678', '', 6200123412345678];
    for (const bad of malformed) {
      const refused = await refusal(bindCard(db, ledger, { memberId: other.memberId, cardUid: newCardUid(), cardNumber: bad as string, actor: clerk }));
      expect(refused.code).toBe('INVALID_CARD_NUMBER');
      if (typeof bad === 'string' && bad.length > 4) expect(refused.message).not.toContain(bad.slice(0, 8));
      expect((await refusal(memberByCardNumber(db, ledger, bad as string))).code).toBe('INVALID_CARD_NUMBER');
    }

    for (const refused of [taken, takenBySameMember, renumbered, numbered]) expect(refused.message).not.toContain(cardNumber);
    expect(await rowCounts(db)).toEqual(before);
    expect((await ledger.getMember(other.memberId)).version).toBe(0);
    expect((await ledger.getMember(owner.memberId)).version).toBe(1);
    expect(await memberByCard(db, ledger, legacy.cardUid)).not.toHaveProperty('cardNumber');
    expect(await memberByCardNumber(db, ledger, cardNumber)).toMatchObject({ memberId: owner.memberId, cardUid });
  });

  it('binds one card number to exactly one card when binds race for it', async () => {
    const cardNumber = newCardNumber();
    const members = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.createMember({ name: `Racer ${i}`, actor: clerk })));
    const results = await Promise.allSettled(
      members.map((m) => bindCard(db, ledger, { memberId: m.memberId, cardUid: newCardUid(), cardNumber, actor: clerk })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of results.filter((r) => r.status === 'rejected')) {
      expect(lost.reason).toMatchObject({ code: 'CARD_ALREADY_BOUND' });
    }
    const cards = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM cards WHERE card_number = $1', [cardNumber]);
    expect(cards.rows[0]!.n).toBe(1);
  });

  it('tops up, pays and moves points, bumping the version once per change', async () => {
    const { memberId, cardUid } = await memberWithCard();
    const topUp = await ledger.topUpCash({
      idempotencyKey: key(), memberId, cardUid, amountFen: 10_000, actor: kiosk, deviceId: 'K-001', deviceSeq: 1,
    });
    expect(topUp.replay).toBe(false);
    expect(topUp.member).toMatchObject({ cardUid, version: 2, balances: { principalFen: 10_000, bonusFen: 0, points: 0 } });

    const paid = await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 2_550, actor: clerk });
    expect(paid.member).toMatchObject({ version: 3, balances: { principalFen: 7_450 } });
    const granted = await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: 120, actor: clerk, reason: 'Welcome gift' });
    expect(granted.member.balances.points).toBe(120);
    const redeemed = await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 100, item: 'Coffee voucher', actor: kiosk });
    expect(redeemed.member).toMatchObject({ version: 5, balances: { principalFen: 7_450, points: 20 } });
    const takenBack = await ledger.adjustPoints({ idempotencyKey: key(), memberId, points: -20, actor: clerk, reason: 'Gift reversed' });
    expect(takenBack.member.balances.points).toBe(0);
    await expectLedgerConsistent(db);
  });

  it('refuses overdrafts with a clear message, changing nothing (not even the version)', async () => {
    const { memberId } = await memberWithCard();
    await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 500, actor: clerk });
    const before = await rowCounts(db);

    const balance = await refusal(ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 501, actor: clerk }));
    expect(balance.code).toBe('INSUFFICIENT_BALANCE');
    expect(balance.message).toBe('储值余额不足：余额 ¥5.00，需要 ¥5.01 / Not enough stored value: the balance is ¥5.00 but ¥5.01 is needed');
    const points = await refusal(ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 1, item: 'Pen', actor: clerk }));
    expect(points.code).toBe('INSUFFICIENT_POINTS');
    expect((await refusal(ledger.adjustPoints({ idempotencyKey: key(), memberId, points: -1, actor: clerk, reason: 'x' }))).code).toBe(
      'INSUFFICIENT_POINTS',
    );

    expect(await rowCounts(db)).toEqual(before);
    expect((await ledger.getMember(memberId)).version).toBe(2);
  });

  it('rejects invalid input before touching the database', async () => {
    const { memberId, cardUid } = await memberWithCard();
    const stranger = await memberWithCard('Stranger');
    const before = await rowCounts(db);
    const base = { idempotencyKey: key(), memberId, actor: clerk };
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => ledger.topUpCash({ ...base, amountFen: 10.5 }), 'INVALID_AMOUNT'],
      [() => ledger.topUpCash({ ...base, amountFen: 0 }), 'INVALID_AMOUNT'],
      [() => ledger.topUpCash({ ...base, amountFen: -100 }), 'INVALID_AMOUNT'],
      [() => ledger.topUpCash({ ...base, amountFen: '10' as unknown as number }), 'INVALID_AMOUNT'],
      [() => ledger.topUpCash({ ...base, amountFen: 2 ** 53 }), 'INVALID_AMOUNT'],
      [() => ledger.adjustPoints({ ...base, points: 0, reason: 'nothing' }), 'INVALID_AMOUNT'],
      [() => ledger.adjustPoints({ ...base, points: 5, reason: '  ' }), 'INVALID_INPUT'],
      [() => ledger.topUpCash({ ...base, idempotencyKey: 'short', amountFen: 100 }), 'INVALID_INPUT'],
      [() => ledger.topUpCash({ ...base, amountFen: 100, actor: { type: 'robot' as Actor['type'], id: 'x' } }), 'INVALID_INPUT'],
      [() => ledger.topUpCash({ ...base, amountFen: 100, deviceId: 'K-001' }), 'INVALID_INPUT'],
      [() => ledger.topUpCash({ ...base, memberId: 'not-a-uuid', amountFen: 100 }), 'MEMBER_NOT_FOUND'],
      [() => ledger.topUpCash({ ...base, memberId: '01900000-0000-7000-8000-000000000000', amountFen: 100 }), 'MEMBER_NOT_FOUND'],
      [() => ledger.topUpCash({ ...base, cardUid: stranger.cardUid, amountFen: 100 }), 'CARD_NOT_FOUND'],
      [() => ledger.createMember({ name: '', actor: clerk }), 'INVALID_INPUT'],
      [() => ledger.createMember({ name: 'Zhao', phone: 'call me', actor: clerk }), 'INVALID_INPUT'],
    ];
    for (const [attempt, code] of cases) expect((await refusal(attempt())).code).toBe(code);
    expect(await rowCounts(db)).toEqual(before);
    expect((await ledger.getMember(memberId)).cardUid).toBe(cardUid);
  });

  it('replays a key with the first result and posts once; another payload under the key is a conflict', async () => {
    const { memberId } = await memberWithCard();
    const request = { idempotencyKey: key(), memberId, amountFen: 1_000, actor: kiosk, deviceId: 'K-001', deviceSeq: 7 };
    const first = await ledger.topUpCash(request);
    const before = await rowCounts(db);

    const again = await ledger.topUpCash(request);
    expect(again).toEqual({ ...first, replay: true });

    const conflict = await refusal(ledger.topUpCash({ ...request, amountFen: 2_000 }));
    expect(conflict.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(refusalOf(conflict)).toEqual({ code: 'IDEMPOTENCY_CONFLICT', message: conflict.message });
    const otherKind = await refusal(ledger.payWithStoredValue({ ...request, amountFen: 1_000 }));
    expect(otherKind.code).toBe('IDEMPOTENCY_CONFLICT');

    expect(await rowCounts(db)).toEqual(before);
    expect((await ledger.getMember(memberId)).balances.principalFen).toBe(1_000);
  });

  it('applies concurrent duplicates of one key exactly once', async () => {
    const { memberId } = await memberWithCard();
    const request = { idempotencyKey: key(), memberId, amountFen: 300, actor: kiosk, deviceId: 'K-002', deviceSeq: 1 };
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.topUpCash(request)));
    expect(results.filter((r) => !r.replay)).toHaveLength(1);
    expect(new Set(results.map((r) => r.txId)).size).toBe(1);
    const postings = await db.query<{ n: number }>(
      'SELECT count(*) AS n FROM postings p JOIN ledger_transactions t ON t.id = p.tx_id WHERE t.idempotency_key = $1',
      [request.idempotencyKey],
    );
    expect(postings.rows[0]!.n).toBe(2);
    expect((await ledger.getMember(memberId)).balances.principalFen).toBe(300);
  });

  it('lists a statement newest first with running balances, actors and reasons', async () => {
    const { memberId } = await memberWithCard();
    await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 5_000, actor: kiosk, deviceId: 'K-009', deviceSeq: 3 });
    await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 1_200, actor: clerk, reason: 'Lunch' });
    await ledger.redeemPoints({ idempotencyKey: key(), memberId, points: 1, item: 'Pen', actor: clerk }).catch(() => undefined);

    const { entries } = await ledger.statement(memberId, { limit: 10 });
    expect(entries).toMatchObject([
      { kind: 'stored_value_payment', account: 'stored_principal', asset: 'CNY', amount: -1_200, balanceAfter: 3_800, reason: 'Lunch', actor: clerk },
      { kind: 'cash_topup', account: 'stored_principal', amount: 5_000, balanceAfter: 5_000, reason: 'Cash top-up', actor: kiosk, deviceId: 'K-009' },
    ]);
    expect((await ledger.statement(memberId, { limit: 1 })).entries).toHaveLength(1);
    expect((await refusal(ledger.statement(memberId, { limit: 0 }))).code).toBe('INVALID_INPUT');
  });

  describe('database-enforced invariants (even for code that bypasses the ledger API)', () => {
    async function insertTransaction(q: Pick<Database, 'query'>, memberId: string): Promise<string> {
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO ledger_transactions (id, idempotency_key, owner, kind, member_id, actor_type, actor_id, reason)
         VALUES (gen_random_uuid(), $1, 'ledger', 'cash_topup', $2, 'system', 'test', 'raw insert') RETURNING id`,
        [key(), memberId],
      );
      return rows[0]!.id;
    }

    it('refuses to commit unbalanced postings or a transaction without postings', async () => {
      const { memberId } = await memberWithCard();
      const before = await rowCounts(db);
      const account = await db.query<{ id: string }>(`SELECT id FROM accounts WHERE member_id = $1 AND kind = 'stored_principal'`, [memberId]);
      const unbalanced = db.transaction(async (tx) => {
        const txId = await insertTransaction(tx, memberId);
        await tx.query(`INSERT INTO postings (tx_id, account_id, asset, amount) VALUES ($1, $2, 'CNY', 100)`, [txId, account.rows[0]!.id]);
      });
      await expect(unbalanced).rejects.toThrow(/unbalanced/);
      // Each INSERT is checked on the rows it adds: a later one cannot unbalance a transaction that was balanced.
      const unbalancedLater = db.transaction(async (tx) => {
        const txId = await insertTransaction(tx, memberId);
        const pair = `INSERT INTO postings (tx_id, account_id, asset, amount) VALUES ($1, $2, 'CNY', 100), ($1, $3, 'CNY', -100)`;
        const bonus = await tx.query<{ id: string }>(`SELECT id FROM accounts WHERE member_id = $1 AND kind = 'stored_bonus'`, [memberId]);
        await tx.query(pair, [txId, account.rows[0]!.id, bonus.rows[0]!.id]);
        await tx.query(`INSERT INTO postings (tx_id, account_id, asset, amount) VALUES ($1, $2, 'CNY', 1)`, [txId, account.rows[0]!.id]);
      });
      await expect(unbalancedLater).rejects.toThrow(/unbalanced/);
      await expect(db.transaction((tx) => insertTransaction(tx, memberId))).rejects.toThrow(/no postings/);
      expect(await rowCounts(db)).toEqual(before);
    });

    it('refuses a malformed or duplicate card number', async () => {
      const { memberId } = await memberWithCard();
      const cardNumber = newCardNumber();
      const insert = (number: string) =>
        db.query(`INSERT INTO cards (uid, card_number, member_id, bound_by_type, bound_by_id) VALUES ($1, $2, $3, 'system', 'test')`, [
          newCardUid(),
          number,
          memberId,
        ]);
      await expect(insert('6200 1234 1234 5678')).rejects.toThrow(/check constraint/);
      await insert(cardNumber);
      await expect(insert(cardNumber)).rejects.toThrow(/unique/);
    });

    it('keeps member balances non-negative and postings append-only', async () => {
      const { memberId } = await memberWithCard();
      await expect(
        db.query(`UPDATE accounts SET balance = -1 WHERE member_id = $1 AND kind = 'points'`, [memberId]),
      ).rejects.toThrow(/check constraint/);
      await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 100, actor: clerk });
      await expect(db.query('UPDATE postings SET amount = amount * 2')).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM postings')).rejects.toThrow(/append-only/);
      await expectLedgerConsistent(db);
    });

    it('refuses postings to a transaction or account that does not exist, a transaction of nobody, and keeps all three forever', async () => {
      const { memberId } = await memberWithCard();
      const before = await rowCounts(db);
      const accounts = await db.query<{ id: string; kind: string }>(`SELECT id, kind FROM accounts WHERE member_id = $1`, [memberId]);
      const principal = accounts.rows.find((a) => a.kind === 'stored_principal')!.id;
      const bonus = accounts.rows.find((a) => a.kind === 'stored_bonus')!.id;
      const points = accounts.rows.find((a) => a.kind === 'points')!.id;
      const pair = `INSERT INTO postings (tx_id, account_id, asset, amount) VALUES ($1, $2, $3, 100), ($1, $4, 'CNY', -100)`;
      const posted = (txId: (tx: Queryable) => Promise<string>, account: string, asset: string) =>
        db.transaction(async (tx) => void (await tx.query(pair, [await txId(tx), account, asset, bonus])));
      await expect(posted(async () => newId(), principal, 'CNY')).rejects.toThrow(/ledger transaction .* does not exist/);
      await expect(posted((tx) => insertTransaction(tx, memberId), newId(), 'CNY')).rejects.toThrow(/account .* does not exist/);
      // An account exists in its own asset only.
      await expect(posted((tx) => insertTransaction(tx, memberId), points, 'CNY')).rejects.toThrow(/account .* does not exist/);
      await expect(db.transaction((tx) => insertTransaction(tx, newId()))).rejects.toThrow(/member .* does not exist/);
      expect(await rowCounts(db)).toEqual(before);

      await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 100, actor: clerk });
      await expect(db.query('DELETE FROM ledger_transactions WHERE member_id = $1', [memberId])).rejects.toThrow(/permanent/);
      await expect(db.query('UPDATE ledger_transactions SET id = gen_random_uuid() WHERE member_id = $1', [memberId])).rejects.toThrow(/permanent/);
      await expect(db.query('DELETE FROM accounts WHERE member_id = $1', [memberId])).rejects.toThrow(/permanent/);
      await expect(db.query(`UPDATE accounts SET asset = 'POINTS' WHERE id = $1`, [principal])).rejects.toThrow(/permanent/);
      await expect(db.query('DELETE FROM members WHERE id = $1', [memberId])).rejects.toThrow(/permanent/);
      await expectLedgerConsistent(db);
    });
  });
});
