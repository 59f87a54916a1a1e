/**
 * Referrals on the hub (rule: shared/rules/referral.ts). A referral is registered once per referee (the
 * primary key of `referrals`); the reward is paid when the program's trigger happens:
 * - at registration of the referral: in the registering transaction;
 * - at the referee's first purchase reaching the minimum: the checkout leaves a follow-up in the outbox in its
 *   own transaction (PURCHASE_FOLLOW_UP), consumed exactly once afterwards — so a committed sale always gets its
 *   reward, and the sale never waits on, or fails with, the referrer's account.
 *
 * The reward is two ledger transactions (one per member: a transaction moves one member's accounts), each with a
 * fixed idempotency key `referral:<referee>:referrer|referee`, posted in one database transaction in member-id
 * order (two rewards never wait on each other's member locks), together with `rewarded_at`.
 */
import { assertReferralAllowed, referralReward, SelfReferralError, type ReferralEvent } from '../../shared/rules/referral.ts';
import { pointsExpireAt } from '../../shared/rules/points-expiry.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { kernelErrors, splitBilingual } from '../kernel/errors.ts';
import { actorOf, textOf } from '../kernel/input.ts';
import { awardLegs, memberIdOf, profileOf, type Ledger } from '../ledger/index.ts';
import type { PublishedRules } from './rules-store.ts';

/** The outbox topic of a purchase that may complete a referral (payload: ReferralPurchase). */
export const PURCHASE_FOLLOW_UP = 'program.purchase';

export interface ReferralPurchase {
  memberId: string;
  amountFen: number;
  actor: Actor;
}

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

export async function getReferral(q: Queryable, refereeId: string, options: { lock?: boolean } = {}): Promise<Referral | undefined> {
  const { rows } = await q.query<ReferralRow>(`SELECT * FROM referrals WHERE referee_id = $1${options.lock ? ' FOR UPDATE' : ''}`, [refereeId]);
  return rows[0] && toReferral(rows[0]);
}

export interface RegisterReferralInput {
  refereeId: string;
  referrerId: string;
  actor: Actor;
  reason: string;
}

/** Records who referred the referee (once), and pays the reward with it when the program rewards at registration. */
export async function registerReferral(db: Database, ledger: Ledger, program: PublishedRules, input: RegisterReferralInput): Promise<Referral> {
  const refereeId = memberIdOf(input.refereeId);
  const referrerId = memberIdOf(input.referrerId);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  try {
    assertReferralAllowed(referrerId, refereeId);
  } catch (error) {
    if (error instanceof SelfReferralError) throw kernelErrors.INVALID_INPUT(splitBilingual(error.message));
    throw error;
  }
  for (const id of [refereeId, referrerId]) await profileOf(db, id);
  return db.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO referrals (referee_id, referrer_id, actor_type, actor_id, reason) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (referee_id) DO NOTHING RETURNING referee_id`,
      [refereeId, referrerId, actor.type, actor.id, reason],
    );
    if (inserted.rows.length === 0) throw kernelErrors.CONFLICT({ zh: '该会员已有推荐人', en: 'This member was already referred by someone' });
    await rewardReferral(tx, ledger, program, refereeId, { kind: 'registration' }, actor);
    return (await getReferral(tx, refereeId))!;
  });
}

/** The purchase follow-up: pays a pending first-purchase referral reward (nothing otherwise), in the consuming transaction. */
export async function rewardOnPurchase(tx: Queryable, ledger: Ledger, program: PublishedRules, purchase: ReferralPurchase): Promise<void> {
  await rewardReferral(tx, ledger, program, purchase.memberId, { kind: 'first_purchase', amountFen: purchase.amountFen }, purchase.actor);
}

/** Pays the reward for `event` inside `tx` if the referee has a referral the event qualifies. */
async function rewardReferral(tx: Queryable, ledger: Ledger, program: PublishedRules, refereeId: string, event: ReferralEvent, actor: Actor): Promise<void> {
  const referral = await getReferral(tx, refereeId, { lock: true });
  if (!referral) return;
  const reward = referralReward(program.rules.referral, event, referral.rewardedAt !== null);
  if (!reward) return;
  const at = new Date();
  const sides = [
    { memberId: referral.referrerId, points: reward.referrerPoints, side: 'referrer', column: 'referrer_tx_id', paid: referral.referrerTxId },
    { memberId: refereeId, points: reward.refereePoints, side: 'referee', column: 'referee_tx_id', paid: referral.refereeTxId },
  ]
    .filter((side) => side.points > 0 && side.paid === null)
    .sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
  for (const side of sides) {
    await ledger.postIn(tx, {
      kind: 'points_award',
      owner: 'program',
      idempotencyKey: `referral:${refereeId}:${side.side}`,
      memberId: side.memberId,
      actor,
      reason: `推荐奖励 referral reward (${side.side})`,
      intent: { referral: refereeId, side: side.side },
      legs: awardLegs(side.points),
      pointsLots: { expiresAt: pointsExpireAt(program.rules.pointsExpiry, at) },
      effects: async (effectsTx, { txId }) => {
        await effectsTx.query(`UPDATE referrals SET ${side.column} = $2 WHERE referee_id = $1`, [refereeId, txId]);
        return undefined;
      },
    });
  }
  await tx.query('UPDATE referrals SET rewarded_at = now() WHERE referee_id = $1 AND rewarded_at IS NULL', [refereeId]);
}
