import { Type, type TSchema } from '@sinclair/typebox';
import { ErrorBody } from '../../shared/contract/payloads.ts';

/** Error responses by status for routes that declare no error codes yet (those that do get them from config.errors). */

const strict = { additionalProperties: false } as const;
const errorResponse = (description: string) => Type.Object({ error: ErrorBody }, { ...strict, description });
const ERROR_DESCRIPTIONS = {
  400: 'Invalid request (VALIDATION_FAILED, INVALID_AMOUNT, INVALID_CARD_UID, INVALID_CARD_NUMBER, INVALID_INPUT)',
  401: 'UNAUTHENTICATED: no operator token, or one that is unknown or deactivated',
  403: "FORBIDDEN: the operator's role or scope (HQ, region, store) does not allow this",
  404: 'MEMBER_NOT_FOUND, CARD_NOT_FOUND, STORE_NOT_FOUND, OPERATOR_NOT_FOUND or NOT_FOUND',
  409: 'Refused by the ledger (INSUFFICIENT_BALANCE, INSUFFICIENT_POINTS, IDEMPOTENCY_CONFLICT, CARD_ALREADY_BOUND, CONFLICT)',
  503: 'The database is unreachable',
};
type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** Error responses of a public route, by status, all with the same `{ error: { code, message } }` body. */
export function publicErrors(...statuses: ErrorStatus[]): Record<number, TSchema> {
  const responses: Record<number, TSchema> = { 500: errorResponse('Unexpected hub error (INTERNAL_ERROR)') };
  for (const status of statuses) responses[status] = errorResponse(ERROR_DESCRIPTIONS[status]);
  return responses;
}

/** Error responses of an operator route: the given statuses plus 401 and 403, which every such route can give. */
export function errors(...statuses: ErrorStatus[]): Record<number, TSchema> {
  return publicErrors(401, 403, ...statuses);
}
