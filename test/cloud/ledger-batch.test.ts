import { beforeAll, describe, expect, it } from 'vitest';
import { bindCard } from '../../cloud/cards/index.ts';
import type { Database } from '../../cloud/db/database.ts';
import type { Ledger, TopUpInput } from '../../cloud/ledger/index.ts';
import { newId } from '../../shared/ids.ts';
import type { TopUpBonusRule } from '../../shared/rules/topup-bonus.ts';
import { waitFor } from '../helpers/events.ts';
import { BACKENDS, expectLedgerConsistent, newCardUid, rowCounts, testLedger, useDatabases } from './support.ts';

const databases = useDatabases();
const operator = { type: 'operator' as const, id: 'test-operator' };
const BONUS: TopUpBonusRule[] = [{ id: 'b100', thresholdFen: 10_000, bonusFen: 2_000, bonusPoints: 50 }];

/**
 * Ledger.topUpCashBatch, the set-based posting of a batch of kiosk top-ups: every top-up posted exactly once per
 * key, within a batch and across batches, with the same balances, versions and lots as one after the other; a
 * refused one writes nothing and does not stop the others.
 */
describe.each(BACKENDS)('a batch of cash top-ups on %s', (backend) => {
  let db: Database;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
  });

  async function memberWithCard(name: string) {
    const created = await ledger.createMember({ name, actor: operator });
    const cardUid = newCardUid();
    await bindCard(db, ledger, { memberId: created.memberId, cardUid, actor: operator });
    return { memberId: created.memberId, cardUid };
  }

  const topUp = (member: { memberId: string; cardUid: string }, amountFen: number, seq: number): TopUpInput => ({
    idempotencyKey: newId(),
    ...member,
    amountFen,
    deviceId: 'kiosk-batch-1',
    deviceSeq: seq,
    actor: { type: 'device', id: 'kiosk-batch-1' },
    bonusRules: BONUS,
  });

  const batch = (inputs: TopUpInput[]) => db.transaction((tx) => ledger.topUpCashBatch(tx, inputs));

  it('posts each once with running balances and versions, and replays across batches', async () => {
    const a = await memberWithCard('批量甲');
    const b = await memberWithCard('批量乙');
    const before = await ledger.getMember(a.memberId);
    const inputs = [topUp(a, 10_000, 1), topUp(b, 500, 2), topUp(a, 300, 3)];
    const first = await batch(inputs);
    expect(first.map((o) => o.status)).toEqual(['posted', 'posted', 'posted']);
    const posted = first.map((o) => (o.status === 'posted' ? o.posted : undefined)!);
    expect(posted[0]).toMatchObject({ replay: false, topUp: { bonusFen: 2_000, bonusPoints: 50 }, member: { balances: { principalFen: 10_000, bonusFen: 2_000, points: 50 }, version: before.version + 1 } });
    expect(posted[2]).toMatchObject({ member: { cardUid: a.cardUid, balances: { principalFen: 10_300, bonusFen: 2_000, points: 50 }, version: before.version + 2 } });
    expect(posted[1]).toMatchObject({ member: { balances: { principalFen: 500, bonusFen: 0, points: 0 } } });
    expect(await ledger.getMember(a.memberId)).toMatchObject({ balances: { principalFen: 10_300, bonusFen: 2_000, points: 50 }, version: before.version + 2 });
    expect((await ledger.pointsLots(a.memberId)).lots).toMatchObject([{ points: 50, remaining: 50 }]);

    const counts = await rowCounts(db);
    const again = await batch([inputs[2]!, inputs[0]!]);
    expect(again).toEqual([
      { status: 'posted', posted: { ...posted[2], replay: true } },
      { status: 'posted', posted: { ...posted[0], replay: true } },
    ]);
    expect(await rowCounts(db)).toEqual(counts);
    // The same key single-handedly, through the one-at-a-time path, replays the batch's result too.
    expect(await ledger.topUpCash(inputs[1]!)).toMatchObject({ txId: posted[1]!.txId, replay: true });
    await expectLedgerConsistent(db);
  });

  it('defers a key used twice in one batch, refuses what it must without writing it, and posts the rest', async () => {
    const a = await memberWithCard('批量丙');
    const stranger = { memberId: newId(), cardUid: newCardUid() };
    const notHers = { memberId: a.memberId, cardUid: (await memberWithCard('批量丁')).cardUid };
    const good = topUp(a, 200, 10);
    const reused = topUp(a, 100, 11);
    await ledger.topUpCash(reused);
    const counts = await rowCounts(db);
    const outcomes = await batch([
      good,
      { ...good },
      topUp(stranger, 100, 12),
      topUp(notHers, 100, 13),
      { ...topUp(a, 999, 14), idempotencyKey: reused.idempotencyKey },
      { ...topUp(a, 0, 15) },
      topUp(a, 400, 16),
    ]);
    expect(outcomes.map((o) => (o.status === 'refused' ? (o.error as { code: string }).code : o.status))).toEqual([
      'posted',
      'deferred',
      'MEMBER_NOT_FOUND',
      'CARD_NOT_FOUND',
      'IDEMPOTENCY_CONFLICT',
      'INVALID_AMOUNT',
      'posted',
    ]);
    expect(await ledger.getMember(a.memberId)).toMatchObject({ balances: { principalFen: 100 + 200 + 400 } });
    expect(await rowCounts(db)).toMatchObject({ transactions: counts.transactions! + 2 });
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE member_id = ANY($1::uuid[])', [[stranger.memberId]]);
    expect(rows[0]!.n).toBe(0);
    // The deferred one, in the next batch, is a replay of the first.
    const [next] = await batch([{ ...good }]);
    expect(next).toMatchObject({ status: 'posted', posted: { replay: true, txId: (outcomes[0] as { posted: { txId: string } }).posted.txId } });
    await expectLedgerConsistent(db);
  });

  it("answers each top-up with its member as right after it, also the accounts a later one in the batch moves", async () => {
    const a = await memberWithCard('批量戊');
    const [small, big] = await batch([topUp(a, 300, 20), topUp(a, 10_000, 21)]);
    expect(small).toMatchObject({ status: 'posted', posted: { member: { balances: { principalFen: 300, bonusFen: 0, points: 0 } } } });
    expect(big).toMatchObject({ status: 'posted', posted: { member: { balances: { principalFen: 10_300, bonusFen: 2_000, points: 50 } } } });
    await expectLedgerConsistent(db);
  });

  it.runIf(backend === 'postgres')('fails the batch, writing nothing, when another request takes one of its keys meanwhile', async () => {
    const a = await memberWithCard('批量己');
    const input = topUp(a, 500, 30);
    const counts = await rowCounts(db);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let claimed!: () => void;
    const claimedKey = new Promise<void>((resolve) => (claimed = resolve));
    // Another request claims the key (as onceWithin does) and holds its transaction open.
    const other = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO idempotency_keys (key, owner, fingerprint) VALUES ($1, 'ledger', 'another request')`, [input.idempotencyKey]);
      claimed();
      await released;
    });
    await claimedKey;
    const racing = batch([input]).then(
      () => 'committed',
      (error: Error) => error.message,
    );
    await waitFor(
      async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys%'`)).rows.length > 0,
      { timeoutMs: 30_000, what: "the batch to wait on the other request's key" },
    );
    release();
    await other;
    expect(await racing).toMatch(/used meanwhile by another request/);
    expect(await rowCounts(db)).toMatchObject({ transactions: counts.transactions });
    expect(await ledger.getMember(a.memberId)).toMatchObject({ balances: { principalFen: 0 } });
    // Posted again (as the gateway does, one at a time), the key is another request's: refused, nothing written.
    const [again] = await batch([input]);
    expect(again).toMatchObject({ status: 'refused', error: { code: 'IDEMPOTENCY_CONFLICT' } });
    await expectLedgerConsistent(db);
  });
});
