import { createHash, randomBytes } from 'node:crypto';

/**
 * Operator bearer tokens: 32 random bytes, base64url, with a recognisable prefix so a leaked one is easy to
 * spot in a paste or a secret scanner. The hub keeps only the sha256 (a random 256-bit token needs no salt
 * or slow hash: nothing about it can be guessed), and never logs the token itself.
 */
const PREFIX = 'mko_';
/** Bootstrap tokens come from the environment; this is the least we accept there. */
export const MIN_TOKEN_LENGTH = 24;

export function newOperatorToken(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A bearer token as RFC 6750 allows it (token68 characters), of a sensible length; anything else is not ours. */
export function isWellFormedToken(token: string): boolean {
  return token.length >= MIN_TOKEN_LENGTH && token.length <= 200 && /^[A-Za-z0-9._~+/=-]+$/.test(token);
}
