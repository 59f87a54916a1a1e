import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../cloud/db/database.ts';
import { HubError } from '../../cloud/kernel/errors.ts';
import type { Ledger, PostedTransaction } from '../../cloud/ledger/index.ts';
import type { Actor } from '../../cloud/kernel/actor.ts';
import type { PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { splitStoredValueSpend, type SpendingOrder } from '../../shared/rules/stored-value.ts';
import { priceTopUp, type TopUpBonusRule } from '../../shared/rules/topup-bonus.ts';
import { key, useDatabases, type Backend, testLedger } from './support.ts';

/**
 * Random sequences of top-ups (with bonus and bonus points), stored-value payments in every spending order,
 * points grants and redemptions, refunds of any earlier transaction and expiry runs, each on a fresh member.
 * After every step: balances are never negative, every transaction's postings sum to zero per asset, each
 * member balance equals the sum of its postings, the points balance equals what the lots hold, a refused
 * step changed nothing, and each step moved exactly what the rules say — a refund exactly its original.
 * Seeds are fixed so a failure reproduces; fast-check shrinks it to a short sequence.
 */

const clerk: Actor = { type: 'operator', id: 'prop-clerk' };
const databases = useDatabases();
const bonusRules: TopUpBonusRule[] = [
  { id: 'r100', thresholdFen: 10_000, bonusFen: 2_000 },
  { id: 'r200', thresholdFen: 20_000, bonusFen: 5_000, bonusPoints: 100 },
  { id: 'r300', thresholdFen: 30_000, bonusFen: 10_000, bonusPoints: 300 },
];
const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00+08:00');

type Op =
  | { op: 'topUp'; amountFen: number; policy: PointsExpiryPolicy }
  | { op: 'pay'; amountFen: number; order: SpendingOrder }
  | { op: 'grant'; points: number }
  | { op: 'redeem'; points: number }
  | { op: 'refund'; pick: number }
  | { op: 'expire' };

const amount = fc.oneof(
  fc.integer({ min: 1, max: 40_000 }),
  fc.constantFrom(9_999, 10_000, 19_999, 20_000, 30_000),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({
    op: fc.constant('topUp' as const),
    amountFen: amount,
    policy: fc.oneof(
      fc.constant<PointsExpiryPolicy>({ kind: 'never' }),
      fc.integer({ min: 1, max: 3 }).map((months): PointsExpiryPolicy => ({ kind: 'months_after_award', months, timeZone: 'Asia/Shanghai' })),
    ),
  }) },
  { weight: 3, arbitrary: fc.record({
    op: fc.constant('pay' as const),
    amountFen: fc.oneof(fc.integer({ min: 1, max: 5_000 }), amount),
    order: fc.constantFrom<SpendingOrder>('principal_first', 'bonus_first', 'proportional'),
  }) },
  fc.record({ op: fc.constant('grant' as const), points: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ op: fc.constant('redeem' as const), points: fc.integer({ min: 1, max: 150 }) }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('refund' as const), pick: fc.nat() }) },
  fc.constant<Op>({ op: 'expire' }),
);

interface Balances {
  principalFen: number;
  bonusFen: number;
  points: number;
}

async function runSequence(db: Database, ledger: Ledger, ops: Op[]): Promise<void> {
  const { memberId } = await ledger.createMember({ name: 'Prop', actor: clerk });
  const posted: PostedTransaction[] = [];
  // Each step happens 12 days after the previous one (lots live 1–3 months); expiry runs at that simulated "now".
  let now = START;
  for (const step of ops) {
    now += 12 * DAY;
    const before = await memberState(db, memberId);
    const at = new Date(now);
    const expected = { ...before.balances };
    let result: PostedTransaction | undefined;
    try {
      switch (step.op) {
        case 'topUp': {
          const price = priceTopUp(bonusRules, step.amountFen, at);
          result = await ledger.topUpCash({ idempotencyKey: key('p'), memberId, amountFen: step.amountFen, actor: clerk, bonusRules, at, pointsExpiry: step.policy });
          expected.principalFen += price.principalFen;
          expected.bonusFen += price.bonusFen;
          expected.points += price.bonusPoints;
          break;
        }
        case 'pay': {
          const total = before.balances.principalFen + before.balances.bonusFen;
          result = await ledger.payWithStoredValue({ idempotencyKey: key('p'), memberId, amountFen: step.amountFen, actor: clerk, spendingOrder: step.order });
          expect(total).toBeGreaterThanOrEqual(step.amountFen);
          const split = splitStoredValueSpend(step.order, before.balances, step.amountFen);
          expected.principalFen -= split.principalFen;
          expected.bonusFen -= split.bonusFen;
          break;
        }
        case 'grant':
          result = await ledger.adjustPoints({ idempotencyKey: key('p'), memberId, points: step.points, actor: clerk, reason: 'Prop grant' });
          expected.points += step.points;
          break;
        case 'redeem':
          result = await ledger.redeemPoints({ idempotencyKey: key('p'), memberId, points: step.points, item: 'Prop item', actor: clerk });
          expected.points -= step.points;
          break;
        case 'refund': {
          const original = posted[step.pick % Math.max(posted.length, 1)];
          if (!original) continue;
          result = await ledger.refund({ originalTxId: original.txId, idempotencyKey: key('p'), actor: clerk, reason: 'Prop refund' });
          await expectRefundUndoes(db, original.txId, result.txId);
          Object.assign(expected, (await memberState(db, memberId)).balances); // checked against the original above
          break;
        }
        case 'expire': {
          const due = before.lots.filter((l) => l.expiresAt !== null && l.expiresAt <= now).reduce((s, l) => s + l.remaining, 0);
          await ledger.expirePoints({ asOf: at });
          expected.points -= due;
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      expect(['INSUFFICIENT_BALANCE', 'INSUFFICIENT_POINTS', 'NOT_REFUNDABLE', 'ALREADY_REFUNDED']).toContain(error.code);
      // Only a step that asks for more than there is may be refused.
      if (step.op === 'pay') expect(before.balances.principalFen + before.balances.bonusFen).toBeLessThan(step.amountFen);
      else if (step.op === 'redeem') expect(before.balances.points).toBeLessThan(step.points);
      else expect(step.op).toBe('refund');
      expect(await memberState(db, memberId)).toEqual(before); // a refusal changes nothing
      continue;
    }
    if (result) posted.push(result);
    const after = await memberState(db, memberId);
    expect(after.balances).toEqual(expected);
    await expectInvariants(db, memberId, after);
  }
}

interface LotState {
  remaining: number;
  expiresAt: number | null;
}

async function memberState(db: Database, memberId: string): Promise<{ balances: Balances; lots: LotState[]; txs: number }> {
  const accounts = await db.query<{ kind: string; balance: number }>('SELECT kind, balance FROM accounts WHERE member_id = $1', [memberId]);
  const of = (kind: string) => accounts.rows.find((r) => r.kind === kind)!.balance;
  const lots = await db.query<{ remaining: number; expires_at: Date | null }>(
    'SELECT remaining, expires_at FROM points_lots WHERE member_id = $1 ORDER BY seq',
    [memberId],
  );
  const txs = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_transactions WHERE member_id = $1', [memberId]);
  return {
    balances: { principalFen: of('stored_principal'), bonusFen: of('stored_bonus'), points: of('points') },
    lots: lots.rows.map((r) => ({ remaining: r.remaining, expiresAt: r.expires_at?.getTime() ?? null })),
    txs: txs.rows[0]!.n,
  };
}

async function expectInvariants(db: Database, memberId: string, state: Awaited<ReturnType<typeof memberState>>): Promise<void> {
  const { balances, lots } = state;
  for (const value of Object.values(balances)) expect(value).toBeGreaterThanOrEqual(0);
  expect(lots.reduce((s, l) => s + l.remaining, 0)).toBe(balances.points);
  const unbalanced = await db.query(
    `SELECT p.tx_id, p.asset FROM postings p JOIN ledger_transactions t ON t.id = p.tx_id
      WHERE t.member_id = $1 GROUP BY p.tx_id, p.asset HAVING sum(p.amount) <> 0`,
    [memberId],
  );
  expect(unbalanced.rows).toEqual([]);
  const drifted = await db.query(
    `SELECT a.kind FROM accounts a LEFT JOIN postings p ON p.account_id = a.id
      WHERE a.member_id = $1 GROUP BY a.id, a.kind, a.balance HAVING a.balance <> coalesce(sum(p.amount), 0)`,
    [memberId],
  );
  expect(drifted.rows).toEqual([]);
  const lotDrift = await db.query(
    `SELECT l.id FROM points_lots l LEFT JOIN points_lot_moves m ON m.lot_id = l.id
      WHERE l.member_id = $1 GROUP BY l.id, l.points, l.remaining HAVING l.remaining <> l.points + coalesce(sum(m.points), 0)`,
    [memberId],
  );
  expect(lotDrift.rows).toEqual([]);
}

/**
 * A refund and its original net to zero on every account, with the two documented exceptions: a top-up's
 * spent bonus is paid from the principal (cash returned less by that much, the bonus contra fully reversed),
 * and awarded points that expired are not taken back.
 */
async function expectRefundUndoes(db: Database, originalTxId: string, refundTxId: string): Promise<void> {
  const { rows } = await db.query<{ account: string; net: number }>(
    `SELECT coalesce(a.system_code, a.kind) AS account, sum(p.amount)::bigint AS net
       FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.tx_id IN ($1, $2)
      GROUP BY coalesce(a.system_code, a.kind) HAVING sum(p.amount) <> 0`,
    [originalTxId, refundTxId],
  );
  const net = Object.fromEntries(rows.map((r) => [r.account, r.net]));
  const expired = await db.query<{ n: number }>(
    `SELECT coalesce(-sum(m.points), 0)::bigint AS n FROM points_lot_moves m JOIN points_lots l ON l.id = m.lot_id
       JOIN ledger_transactions t ON t.id = m.tx_id WHERE l.award_tx_id = $1 AND t.kind = 'points_expiry'`,
    [originalTxId],
  );
  const expiredPoints = expired.rows[0]!.n;
  const spentBonus = net.stored_bonus ?? 0; // bonus of the top-up not taken back (already spent)
  const expectedNet: Record<string, number> = {};
  if (spentBonus) {
    expectedNet.stored_bonus = spentBonus;
    expectedNet['cash_received:counter'] = -spentBonus;
  }
  if (expiredPoints) {
    expectedNet.points = expiredPoints;
    expectedNet.points_issued = -expiredPoints;
  }
  expect(net).toEqual(expectedNet);
}

describe.each<[Backend, number, number]>([
  ['pglite', 200, 0x5eed],
  ['postgres', 25, 0xbeef],
])('ledger properties on %s (%i runs)', (backend, numRuns, seed) => {
  let db: Database;
  let ledger: Ledger;
  beforeAll(async () => {
    db = await databases.open(backend);
    ledger = await testLedger(db);
  });

  it('random sequences keep every invariant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 25 }), (ops) => runSequence(db, ledger, ops)),
      { numRuns, seed },
    );
  }, 600_000);
});
