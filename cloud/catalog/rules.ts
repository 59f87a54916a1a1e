import type { SpendingOrder } from '../../shared/rules/stored-value.ts';
import type { TierRules } from '../../shared/rules/tiers.ts';
import type { Database } from '../db/database.ts';
import { RulesStore } from '../program/rules-store.ts';

/** The parts of the program rules the catalog uses: tier ids and ratios, and how a cash part is paid. */
export interface CatalogRules {
  readonly tiers: TierRules;
  /** Principal/bonus split of the stored value paying an item's cash part. */
  readonly spendingOrder: SpendingOrder;
}

/** Read once per operation, before its database transaction opens (see RulesStore). */
export type CatalogRulesSource = () => Promise<CatalogRules>;

/** The hub's current published program rules. */
export function programRulesSource(db: Database): CatalogRulesSource {
  const store = new RulesStore(db);
  return async () => (await store.current()).rules;
}
