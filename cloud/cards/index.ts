/** Member cards on the hub: lifecycle, supplementary cards, fees (rules: shared/rules/cards.ts). */
export { CardService, type CardChange, type CardChangeInput, type ChargeFeeInput, type FeeScheduleSource, type IssueSupplementaryInput, type ReplaceCardInput, type StatusAction } from './card-service.ts';
export { ANNUAL_FEE_JOB_ACTOR, chargeAnnualFees, type AnnualFeeRun } from './annual-fee-job.ts';
export { registerCardRoutes, type CardRouteDeps } from './card-routes.ts';
export { admitPresentedCard, assertCardUsable, cardRefusalError } from './card-guard.ts';
export type { CardView } from './card-records.ts';
export type { CardEventView } from './card-events.ts';
export type { CardFeeView } from './card-fees.ts';
