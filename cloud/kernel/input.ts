import type { Actor, ActorType } from './actor.ts';
import { kernelErrors } from './errors.ts';

/**
 * Checks of the plain values every module's operations take. They run before any SQL, so bad input changes
 * nothing, and they hold for every caller (REST, the device link, jobs), not only for those that validate a
 * schema. A refusal is INVALID_INPUT naming the field, in both languages.
 */

const ACTOR_TYPES: readonly ActorType[] = ['member', 'operator', 'device', 'system'];

export function invalid(zh: string, en: string) {
  return kernelErrors.INVALID_INPUT({ zh, en });
}

/** Trimmed text of 1 to maxLength characters. */
export function textOf(value: unknown, field: string, maxLength: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.length < 1 || text.length > maxLength) throw invalid(`${field} 为必填项（1 至 ${maxLength} 个字符）`, `${field} is required (1 to ${maxLength} characters)`);
  return text;
}

export function idempotencyKeyOf(value: unknown): string {
  if (typeof value !== 'string' || value.length < 8 || value.length > 100) {
    throw invalid('idempotencyKey 须为 8 至 100 个字符、每个请求唯一的字符串', 'idempotencyKey must be a string of 8 to 100 characters that is unique per request');
  }
  return value;
}

export function actorOf(value: Actor): Actor {
  if (!ACTOR_TYPES.includes(value?.type)) throw invalid(`actor.type 须为 ${ACTOR_TYPES.join('、')} 之一`, `actor.type must be one of ${ACTOR_TYPES.join(', ')}`);
  return { type: value.type, id: textOf(value.id, 'actor.id', 100) };
}
