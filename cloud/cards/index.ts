/** Member cards on the hub: lifecycle, supplementary cards, fees (rules: shared/rules/cards.ts). */
import type { HubModule, HubServices } from '../kernel/module.ts';
import { chargeAnnualFees } from './annual-fee-job.ts';
import { registerCardRoutes } from './card-routes.ts';
import { cardErrors } from './errors.ts';

export { CardService, type CardChange, type CardChangeInput, type ChargeFeeInput, type FeeScheduleSource, type IssueSupplementaryInput, type ReplaceCardInput, type StatusAction } from './card-service.ts';
export { ANNUAL_FEE_JOB_ACTOR, chargeAnnualFees, type AnnualFeeRun } from './annual-fee-job.ts';
export { bindCard, memberByCard, memberByCardNumber, type BindCardInput } from './card-binding.ts';
export { cardErrors } from './errors.ts';
export { cardsPort } from './card-guard.ts';
export { presentedCardSql, usablePresentedCard, type PresentedCardKey, type PresentedCardRow } from './presented-card.ts';
export type { CardView } from './card-records.ts';
export type { CardEventView } from './card-events.ts';
export type { CardFeeView } from './card-fees.ts';

export function cardsModule(hub: HubServices): HubModule {
  const { db, ledger, rules } = hub;
  return {
    name: 'cards',
    tables: ['cards', 'card_events', 'card_fees', 'card_spending'],
    errors: cardErrors,
    routes: async (api) => registerCardRoutes(api, { db, ledger, rules }),
    jobs: [{ name: 'annual-fees', run: async ({ asOf, logger }) => chargeAnnualFees(db, ledger, { program: await rules.current(), asOf, logger }) }],
    // A card fee's refund gives the money back; the fee stays on the card's record.
    reverser: { reverse: async () => {}, refusals: [] },
  };
}

