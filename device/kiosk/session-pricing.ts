/**
 * The kiosk's half of "kiosk and hub give identical results": prices a banknote of the open cash session with
 * the program rules on disk (shared/rules/session-topup.ts), and names the rules version, the instant and the
 * session total it used, so the hub can run exactly the same computation (cloud/mqtt/topup-pricing.ts).
 */
import type { TopUpPricing } from '../../shared/contract/payloads.ts';
import { priceSessionBill, topUpOffer, type TopUpOffer } from '../../shared/rules/session-topup.ts';
import type { AppliedProgram, CashSession } from '../store/kiosk-store.ts';

/** The session a bill belongs to, as far as pricing goes (none: the bill is a session of its own). */
type SessionState = Pick<CashSession, 'creditedFen' | 'pricing'> | undefined;

/**
 * Pricing of one bill: with the session's rules version and instant once its first bill fixed them, otherwise
 * with the rules in force at `now`. The kiosk holds only the newest rule set, so when newer rules arrive in the
 * middle of a session its next bill fixes the session again under them (what the session credited still
 * counts). Undefined when the kiosk has no program rules yet: the hub then prices the bill (see there).
 */
export function priceBill(program: AppliedProgram, session: SessionState, amountFen: number, now: Date): TopUpPricing | undefined {
  if (!program) return undefined;
  const occurredAt = pricingInstant(program, session, now);
  const sessionCreditedFen = session?.creditedFen ?? 0;
  const price = priceSessionBill(program.rules.topUpBonus, sessionCreditedFen, amountFen, new Date(occurredAt));
  return {
    rulesVersion: program.version,
    occurredAt,
    sessionCreditedFen,
    bonusFen: price.bonusFen,
    bonusPoints: price.bonusPoints,
    ruleId: price.ruleId,
  };
}

/** What the screen offers the member of this session: earned so far and the next bracket. */
export function sessionOffer(program: AppliedProgram, session: SessionState, now: Date): TopUpOffer | undefined {
  if (!program) return undefined;
  return topUpOffer(program.rules.topUpBonus, session?.creditedFen ?? 0, new Date(pricingInstant(program, session, now)));
}

function pricingInstant(program: NonNullable<AppliedProgram>, session: SessionState, now: Date): string {
  const fixed = session?.pricing?.rulesVersion === program.version ? session.pricing : undefined;
  return fixed?.occurredAt ?? now.toISOString();
}
