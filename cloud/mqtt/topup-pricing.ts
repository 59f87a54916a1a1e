/**
 * The hub's half of "kiosk and hub give identical results": a kiosk cash top-up is re-priced with the program
 * rules version the kiosk named, at the instant it named, with what its session had credited before — the
 * same pure functions (shared/rules/session-topup.ts) the kiosk ran. The hub posts its own result; a
 * difference from the kiosk's promise is reported, not silently accepted.
 *
 * Documented fallbacks:
 * - no `pricing` (kiosk software before program rules, or a kiosk that has not received a rule set yet — it
 *   gets one with its device configuration): the kiosk promised no bonus, so the hub posts the principal only,
 *   exactly what the kiosk showed (as before program rules existed);
 * - a `rulesVersion` the hub never published: refused (RULES_VERSION_UNKNOWN, final, nothing posted) — the
 *   hub cannot know what the member was promised, so staff settle it by hand from the kiosk's outbox.
 */
import type { DeviceTransaction, ErrorBody, TopUpPricing } from '../../shared/contract/payloads.ts';
import type { PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { remainingTopUpRules } from '../../shared/rules/session-topup.ts';
import { priceTopUp, type TopUpBonusRule, type TopUpPrice } from '../../shared/rules/topup-bonus.ts';
import { LedgerError } from '../ledger/errors.ts';
import type { PublishedRules } from '../program/rules-store.ts';

export type RulesSource = {
  byVersion(version: number): Promise<Pick<PublishedRules, 'version' | 'rules'>>;
};

export class UnknownRulesVersionError extends Error {
  readonly body: ErrorBody;

  constructor(version: number) {
    super(`program rules version ${version} is unknown to the hub`);
    this.name = 'UnknownRulesVersionError';
    this.body = {
      code: 'RULES_VERSION_UNKNOWN',
      message: `The hub has no program rules version ${version}, so it cannot honour the bonus shown; nothing was posted. 请联系店员 / Please contact staff.`,
    };
  }
}

export interface HubTopUpPricing {
  rulesVersion: number;
  /** What the ledger prices this bill with (its plain priceTopUp gives `price`). */
  bonusRules: TopUpBonusRule[];
  at: Date;
  pointsExpiry: PointsExpiryPolicy;
  price: TopUpPrice;
  /** The kiosk promised something else (only possible with a bug or tampering). */
  mismatch: boolean;
  /** The ledger transaction's reason: names the rule, the rules version and the instant, for audits. */
  reason: string;
}

/** Pure: the hub's pricing of a bill the kiosk priced, with the rules of the version it named. */
export function repriceTopUp(published: Pick<PublishedRules, 'version' | 'rules'>, amountFen: number, promised: TopUpPricing): HubTopUpPricing {
  const { version: rulesVersion, rules } = published;
  const at = new Date(promised.occurredAt);
  const bonusRules = remainingTopUpRules(rules.topUpBonus, promised.sessionCreditedFen, at);
  const price = priceTopUp(bonusRules, amountFen, at);
  const mismatch = promised.bonusFen !== price.bonusFen || promised.bonusPoints !== price.bonusPoints || promised.ruleId !== price.ruleId;
  const rule = price.ruleId === null ? 'no bonus bracket' : `bonus rule ${price.ruleId}`;
  const reason = `Kiosk cash top-up; ${rule} of program rules v${rulesVersion} at ${at.toISOString()}`;
  return { rulesVersion, bonusRules, at, pointsExpiry: rules.pointsExpiry, price, mismatch, reason };
}

/** Looks up the rules version the transaction names and re-prices it; undefined when the kiosk priced nothing. */
export async function topUpPricingOf(source: RulesSource, tx: DeviceTransaction): Promise<HubTopUpPricing | undefined> {
  const promised = tx.body.pricing;
  if (!promised) return undefined;
  let published: Pick<PublishedRules, 'version' | 'rules'>;
  try {
    published = await source.byVersion(promised.rulesVersion);
  } catch (error) {
    if (error instanceof LedgerError && error.code === 'NOT_FOUND') throw new UnknownRulesVersionError(promised.rulesVersion);
    throw error;
  }
  return repriceTopUp(published, tx.body.amountFen, promised);
}
