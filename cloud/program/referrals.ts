/**
 * Referrals on the hub (rule: shared/rules/referral.ts). A referral is registered once per referee (the
 * primary key of `referrals`); the reward is paid when the program's trigger happens — at registration of
 * the referral, or at the referee's first purchase reaching the minimum (checkout calls
 * `rewardReferralOnPurchase` after its transaction commits).
 *
 * The reward is two ledger transactions (one per member: a transaction moves one member's accounts), each
 * with a fixed idempotency key `referral:<referee>:referrer|referee`. A retry or a concurrent second call
 * replays them instead of paying twice; a crash between the two is completed by the next call, because
 * `rewarded_at` is only set by the last one.
 */
import { assertReferralAllowed, referralReward, SelfReferralError, type ReferralEvent } from '../../shared/rules/referral.ts';
import type { Database, Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { memberNotFound } from '../ledger/members.ts';
import { postTransaction } from '../ledger/posting.ts';
import type { Actor } from '../ledger/types.ts';
import { actorOf, memberIdOf, textOf } from '../ledger/validate.ts';
import { awardLegs, awardLots } from './points-award.ts';
import type { PublishedRules } from './rules-store.ts';

export interface Referral {
  refereeId: string;
  referrerId: string;
  createdAt: string;
  /** Set once both sides were paid. */
  rewardedAt: string | null;
  referrerTxId: string | null;
  refereeTxId: string | null;
}

interface ReferralRow {
  referee_id: string;
  referrer_id: string;
  created_at: Date | string;
  rewarded_at: Date | string | null;
  referrer_tx_id: string | null;
  referee_tx_id: string | null;
}

const toReferral = (row: ReferralRow): Referral => ({
  refereeId: row.referee_id,
  referrerId: row.referrer_id,
  createdAt: new Date(row.created_at).toISOString(),
  rewardedAt: row.rewarded_at === null ? null : new Date(row.rewarded_at).toISOString(),
  referrerTxId: row.referrer_tx_id,
  refereeTxId: row.referee_tx_id,
});

export async function getReferral(q: Queryable, refereeId: string): Promise<Referral | undefined> {
  const { rows } = await q.query<ReferralRow>('SELECT * FROM referrals WHERE referee_id = $1', [refereeId]);
  return rows[0] && toReferral(rows[0]);
}

export interface RegisterReferralInput {
  refereeId: string;
  referrerId: string;
  actor: Actor;
  reason: string;
}

/** Records who referred the referee (once), and pays the reward now when the program rewards at registration. */
export async function registerReferral(db: Database, program: PublishedRules, input: RegisterReferralInput): Promise<Referral> {
  const refereeId = memberIdOf(input.refereeId);
  const referrerId = memberIdOf(input.referrerId);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  try {
    assertReferralAllowed(referrerId, refereeId);
  } catch (error) {
    if (error instanceof SelfReferralError) throw new LedgerError('INVALID_INPUT', error.message);
    throw error;
  }
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>('SELECT id FROM members WHERE id = ANY($1::uuid[])', [[refereeId, referrerId]]);
    for (const id of [refereeId, referrerId]) if (!rows.some((r) => r.id === id)) throw memberNotFound(id);
    const inserted = await tx.query(
      `INSERT INTO referrals (referee_id, referrer_id, actor_type, actor_id, reason) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (referee_id) DO NOTHING RETURNING referee_id`,
      [refereeId, referrerId, actor.type, actor.id, reason],
    );
    if (inserted.rows.length === 0) throw new LedgerError('CONFLICT', '该会员已有推荐人 / This member was already referred by someone.');
  });
  await rewardReferral(db, program, refereeId, { kind: 'registration' }, actor);
  return (await getReferral(db, refereeId))!;
}

/** For checkout, after its transaction commits: pays a pending first-purchase referral reward (no-op otherwise). */
export function rewardReferralOnPurchase(db: Database, program: PublishedRules, refereeId: string, amountFen: number, actor: Actor): Promise<Referral | null> {
  return rewardReferral(db, program, refereeId, { kind: 'first_purchase', amountFen }, actor);
}

/** Pays the reward for `event` if the referee has a referral the event qualifies; null when nothing is paid. */
export async function rewardReferral(db: Database, program: PublishedRules, refereeId: string, event: ReferralEvent, actor: Actor): Promise<Referral | null> {
  const referral = await getReferral(db, refereeId);
  if (!referral) return null;
  const reward = referralReward(program.rules.referral, event, referral.rewardedAt !== null);
  if (!reward) return null;
  const at = new Date();
  const sides = [
    { memberId: referral.referrerId, points: reward.referrerPoints, side: 'referrer', column: 'referrer_tx_id' },
    { memberId: refereeId, points: reward.refereePoints, side: 'referee', column: 'referee_tx_id' },
  ].filter((s) => s.points > 0);
  for (const [index, side] of sides.entries()) {
    const last = index === sides.length - 1;
    // A side an earlier, interrupted call already paid is not paid again.
    if ((side.side === 'referrer' ? referral.referrerTxId : referral.refereeTxId) !== null) continue;
    await postTransaction(db, {
      kind: 'points_award',
      idempotencyKey: `referral:${refereeId}:${side.side}`,
      memberId: side.memberId,
      actor,
      reason: `推荐奖励 referral reward (${side.side})`,
      intent: { referral: refereeId, side: side.side },
      legs: awardLegs(side.points),
      pointsLots: awardLots(program.rules, at),
      effects: async (tx, txId) => {
        await tx.query(
          `UPDATE referrals SET ${side.column} = $2${last ? ', rewarded_at = now()' : ''} WHERE referee_id = $1`,
          [refereeId, txId],
        );
      },
    }).catch((error: unknown) => {
      // A concurrent call paid this side first (its lot expiry may differ by an instant): already done.
      if (!(error instanceof LedgerError && error.code === 'IDEMPOTENCY_CONFLICT')) throw error;
    });
  }
  return (await getReferral(db, refereeId))!;
}
