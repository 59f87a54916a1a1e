import { defineErrors } from '../kernel/errors.ts';

/** The cards module's refusals: each means nothing was changed. */
export const cardErrors = defineErrors('cards', {
  /** No card has this UID, or it is not a card of the member named. */
  CARD_NOT_FOUND: 404,
  /** The card (or its printed number) already belongs to a member. */
  CARD_ALREADY_BOUND: 409,
  /** The card is reported lost: it pays for nothing until it is found. */
  CARD_LOST: 409,
  /** The card is frozen by the store. */
  CARD_FROZEN: 409,
  /** The card's state does not allow this (cancelled, replaced, a supplementary card's own supplementary). */
  CARD_INVALID_STATE: 409,
  /** A supplementary card's daily spending limit does not allow this amount today. */
  CARD_DAILY_LIMIT_EXCEEDED: 409,
});
