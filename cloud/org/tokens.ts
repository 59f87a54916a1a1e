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

/** The least entropy a bootstrap token must show, in bits (tokenBits). */
const MIN_BOOTSTRAP_TOKEN_BITS = 128;

/**
 * A token's entropy as its own characters show it: its length times the Shannon entropy of their frequencies. It
 * cannot see a dictionary word, but it catches what people type when asked for a long secret: 24 × "a" shows 0 bits,
 * "abc" repeated 62, "a-long-enough-admin-token-1234" 117. Random tokens: openssl rand -base64 32 shows 198–228
 * bits, -base64 24 131–156, -hex 32 220–253 (200 samples each; -hex 16, a real 128 bits, shows only 101–124).
 */
function tokenBits(token: string): number {
  const counts = new Map<string, number>();
  for (const char of token) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perCharacter = 0;
  for (const count of counts.values()) perCharacter -= (count / token.length) * Math.log2(count / token.length);
  return perCharacter * token.length;
}

/** A token fit to be HUB_ADMIN_TOKEN: well formed, and random-looking enough (MIN_BOOTSTRAP_TOKEN_BITS). */
export function isStrongBootstrapToken(token: string): boolean {
  return isWellFormedToken(token) && tokenBits(token) >= MIN_BOOTSTRAP_TOKEN_BITS;
}

/** Why a HUB_ADMIN_TOKEN is refused, in English and Chinese; never the token itself. */
export const WEAK_BOOTSTRAP_TOKEN = {
  en: `HUB_ADMIN_TOKEN must be ${MIN_TOKEN_LENGTH} to 200 characters of letters, digits or -._~+/= and look random (at least ${MIN_BOOTSTRAP_TOKEN_BITS} bits by the spread of its characters); make one with openssl rand -base64 32`,
  zh: `HUB_ADMIN_TOKEN 须为 ${MIN_TOKEN_LENGTH} 至 200 个字母、数字或 -._~+/= 字符，且足够随机（按字符分布至少 ${MIN_BOOTSTRAP_TOKEN_BITS} 位）；可用 openssl rand -base64 32 生成`,
};
