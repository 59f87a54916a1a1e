import { defineErrors } from '../kernel/errors.ts';

/** The organisation's refusals: each means nothing was changed. */
export const orgErrors = defineErrors('org', {
  STORE_NOT_FOUND: 404,
  REGION_NOT_FOUND: 404,
  OPERATOR_NOT_FOUND: 404,
});
