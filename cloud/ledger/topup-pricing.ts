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
 * - a `rulesVersion` the hub never published (a restored database, a tampered kiosk): the cash is in the box, so
 *   it is never refused — the principal is posted, no bonus, and the difference from the kiosk's promise is
 *   reported as a mismatch for staff to settle. Trusting the kiosk's bonus instead would let one kiosk mint value.
 */
import type { DeviceTransaction, TopUpPricing } from '../../shared/contract/payloads.ts';
import type { PointsExpiryPolicy } from '../../shared/rules/points-expiry.ts';
import { remainingTopUpRules } from '../../shared/rules/session-topup.ts';
import { priceTopUp, type TopUpBonusRule, type TopUpPrice } from '../../shared/rules/topup-bonus.ts';
import { HubError, kernelErrors } from '../kernel/errors.ts';
import type { PublishedRules } from '../program/index.ts';

export type RulesSource = {
  byVersion(version: number): Promise<Pick<PublishedRules, 'version' | 'rules'>>;
};

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
    // A version the hub never published (RulesStore.byVersion: NOT_FOUND): the cash is still credited.
    if (error instanceof HubError && error.code === kernelErrors.NOT_FOUND.code) return principalOnly(promised, tx.body.amountFen);
    throw error;
  }
  return repriceTopUp(published, tx.body.amountFen, promised);
}

/** A top-up priced with rules the hub does not know: principal only, flagged as a mismatch when a bonus was shown. */
function principalOnly(promised: TopUpPricing, amountFen: number): HubTopUpPricing {
  const at = new Date(promised.occurredAt);
  const price = priceTopUp([], amountFen, at);
  const mismatch = promised.bonusFen !== 0 || promised.bonusPoints !== 0 || promised.ruleId !== null;
  const reason = `Kiosk cash top-up; program rules v${promised.rulesVersion} unknown to the hub, principal only`;
  return { rulesVersion: promised.rulesVersion, bonusRules: [], at, pointsExpiry: { kind: 'never' }, price, mismatch, reason };
}
