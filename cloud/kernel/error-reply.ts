import type { FastifyError } from 'fastify';
import { bilingual, HubError } from './errors.ts';
import { RequestValidationError } from './validation.ts';

export interface ErrorReply {
  status: number;
  error: { code: string; message: string };
}

/** Every error the API returns has the shape `{ error: { code, message } }`; this picks both and the status. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof HubError) return { status: error.status, error: { code: error.code, message: error.message } };
  // The detail (which field, what it expects) is for whoever wrote the request: the schema speaks English.
  if (error instanceof RequestValidationError) {
    return { status: 400, error: { code: 'VALIDATION_FAILED', message: bilingual({ zh: '请求内容不符合接口要求', en: error.message }) } };
  }
  const statusCode = (error as FastifyError).statusCode;
  // Framework refusals before our code runs: malformed JSON, wrong content type, body too large.
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, error: { code: 'BAD_REQUEST', message: bilingual({ zh: '请求无法解析', en: (error as Error).message }) } };
  }
  return { status: 500, error: { code: 'INTERNAL_ERROR', message: bilingual({ zh: '中心出现意外错误，请重试', en: 'The hub hit an unexpected error. Please try again' }) } };
}
