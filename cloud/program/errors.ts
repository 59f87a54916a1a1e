import { defineErrors } from '../kernel/errors.ts';

/** The program's refusals: each means nothing was changed. */
export const programErrors = defineErrors('program', {
  /** The member checked in today already (the store's local day). */
  ALREADY_CHECKED_IN: 409,
  /** A points budget (member or store, per day or month) does not allow this now. */
  BUDGET_EXCEEDED: 409,
});
