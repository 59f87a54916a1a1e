import type { BudgetRules } from '../../shared/rules/budget.ts';
import type { SpendingOrder } from '../../shared/rules/stored-value.ts';
import type { TierRules } from '../../shared/rules/tiers.ts';
import type { RulesStore } from '../program/index.ts';

/** The parts of the program rules the catalog uses: tier ids and ratios, how a cash part is paid, points budgets. */
export interface CatalogRules {
  readonly tiers: TierRules;
  /** Principal/bonus split of the stored value paying an item's cash part. */
  readonly spendingOrder: SpendingOrder;
  /** The 'spend' caps a redemption's points count against (member and store). */
  readonly budgets: BudgetRules;
}

/** The hub's published program rules (the RulesStore): read once per operation, before its database transaction opens. */
export type CatalogRulesSource = Pick<RulesStore, 'current'>;

