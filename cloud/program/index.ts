/**
 * The membership program: the published rule sets (versioned, immutable), tiers and their review, daily
 * check-in, referrals, points budgets, and the notices a member sees at a kiosk.
 */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { registerProgramRoutes } from './routes.ts';
import { runTierReview } from './tiers.ts';
import type { Actor } from '../kernel/actor.ts';

export { RulesStore, type PublishedRules, type PublishListener } from './rules-store.ts';
export { KioskNotices } from './member-notices.ts';

export const TIER_REVIEW_JOB_ACTOR: Actor = { type: 'system', id: 'tier-review-job' };
const TIER_REVIEW_REASON = '定期等级评审 / Scheduled tier review';

export function programModule(hub: HubServices): HubModule {
  const { db, rules } = hub;
  return {
    name: 'program',
    tables: [
      'program_rule_sets', 'member_tiers', 'member_tier_changes', 'qualifying_spend', 'tier_review_runs', 'check_ins', 'referrals',
      'points_budget_usage', 'points_budget_alerts', 'points_budget_consumptions',
    ],
    routes: async (api) => registerProgramRoutes(api, { db, rules }),
    jobs: [
      {
        name: 'tier-review',
        run: async ({ asOf, logger }) =>
          runTierReview(db, { program: await rules.current(), at: asOf, actor: TIER_REVIEW_JOB_ACTOR, reason: TIER_REVIEW_REASON, logger }),
      },
    ],
  };
}
