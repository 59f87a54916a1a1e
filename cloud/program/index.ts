/**
 * The membership program: the published rule sets (versioned, immutable), tiers and their review, daily
 * check-in, referrals, points budgets, and the notices a member sees at a kiosk.
 */
import type { Actor } from '../kernel/actor.ts';
import type { HubModule, HubServices } from '../kernel/module.ts';
import { programErrors } from './errors.ts';
import { PURCHASE_FOLLOW_UP, rewardOnPurchase, type ReferralPurchase } from './referrals.ts';
import { registerProgramRoutes } from './routes.ts';
import { runTierReview } from './tiers.ts';

export { budgetAllowance, consumeBudget, type BudgetAlert, type BudgetUse, type Allowance } from './budgets.ts';
export { programErrors } from './errors.ts';
export { KioskNotices, noticeFactsSql, type NoticeFactsRow, type NoticeRead } from './member-notices.ts';
export { PURCHASE_FOLLOW_UP, type ReferralPurchase } from './referrals.ts';
export { RulesStore, type PublishedRules, type PublishListener } from './rules-store.ts';
export { cancelQualifyingSpend, memberTierSql, recordQualifyingSpend, shownTierOf, tiersPort, type MemberTierRow } from './tiers.ts';

export const TIER_REVIEW_JOB_ACTOR: Actor = { type: 'system', id: 'tier-review-job' };
const TIER_REVIEW_REASON = '定期等级评审 / Scheduled tier review';

export function programModule(hub: HubServices): HubModule {
  const { db, ledger, rules } = hub;
  return {
    name: 'program',
    errors: programErrors,
    tables: [
      'program_rule_sets', 'member_tiers', 'member_tier_changes', 'qualifying_spend', 'tier_review_runs', 'check_ins', 'referrals',
      'points_budget_usage', 'points_budget_alerts', 'points_budget_consumptions',
    ],
    routes: async (api) => registerProgramRoutes(api, { db, ledger, rules }),
    followUps: {
      // A purchase may complete a referral: the reward is paid exactly once after the sale committed.
      [PURCHASE_FOLLOW_UP]: async (tx, payload) => rewardOnPurchase(tx, ledger, await rules.currentWithin(tx), payload as ReferralPurchase),
    },
    jobs: [
      {
        name: 'tier-review',
        run: async ({ asOf, logger }) =>
          runTierReview(db, { program: await rules.current(), at: asOf, actor: TIER_REVIEW_JOB_ACTOR, reason: TIER_REVIEW_REASON, logger }),
      },
    ],
  };
}
