/**
 * Redemption vouchers: a unique code per redemption, and a signed text (for a QR code) that a kiosk or a
 * cashier terminal verifies offline with the hub's public key.
 *
 * Code: 16 characters from a 32-symbol alphabet without look-alikes (no 0/O, 1/I): 15 random symbols
 * (75 bits from node:crypto) and one Luhn mod 32 check symbol, so a mistyped code (one wrong symbol, or two
 * neighbours swapped) is refused before any lookup. Shown as "K7QM-3XPD-9HRT-W2N5".
 *
 * Signed text: `MKV1.<kid>.<payload>.<signature>`, base64url parts. The Ed25519 signature covers everything
 * before the last dot — version, key id and payload — so no part can be swapped. The key id (first 8 bytes of
 * the public key's SHA-256) tells "signed with another key" apart from "altered". The payload is a compact JSON
 * array [code, itemId, itemName, member (masked), storeId or null, expiresAt (epoch ms)].
 * The hub holds the private key; nothing here needs it except signVoucher.
 */
import { createHash, randomInt, sign, verify, type KeyObject } from 'node:crypto';
import { maskPhone } from '../card.ts';

export const VOUCHER_CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const RANDOM_SYMBOLS = 15;
const CODE_PATTERN = new RegExp(`^[${VOUCHER_CODE_ALPHABET}]{${RANDOM_SYMBOLS + 1}}$`);
const PREFIX = 'MKV1';

export interface VoucherPayload {
  /** The 16-symbol code, without dashes. */
  readonly code: string;
  readonly itemId: string;
  /** What the cashier hands over, as the member saw it (e.g. "拿铁 Latte"). */
  readonly itemName: string;
  /** Enough for a cashier to match the person, never the full name or phone: "张** 138****5678". */
  readonly member: string;
  /** The only store that may write it off, or null for any store of the chain. */
  readonly storeId: string | null;
  /** Valid while the instant is before this. */
  readonly expiresAt: Date;
}

export type VoucherRefusal = 'malformed' | 'unsupported_version' | 'wrong_key' | 'bad_signature' | 'expired' | 'wrong_store';

export type VoucherVerification =
  | { readonly ok: true; readonly voucher: VoucherPayload }
  | { readonly ok: false; readonly reason: VoucherRefusal; readonly messageZh: string; readonly messageEn: string };

const REFUSALS: Record<VoucherRefusal, [zh: string, en: string]> = {
  malformed: ['不是有效的兑换券', 'This is not a valid voucher'],
  unsupported_version: ['兑换券版本不受支持', 'This voucher version is not supported'],
  wrong_key: ['兑换券不是本连锁签发的', 'This voucher was not issued by this chain'],
  bad_signature: ['兑换券签名无效（内容被改动）', 'The voucher signature is invalid (it was altered)'],
  expired: ['兑换券已过期', 'This voucher has expired'],
  wrong_store: ['此兑换券不能在本店核销', 'This voucher cannot be used at this store'],
};

function refuse(reason: VoucherRefusal): VoucherVerification {
  const [messageZh, messageEn] = REFUSALS[reason];
  return { ok: false, reason, messageZh, messageEn };
}

/** Luhn mod N over the alphabet: the symbol that makes the whole code check out. */
function checkSymbol(body: string): string {
  const n = VOUCHER_CODE_ALPHABET.length;
  let sum = 0;
  // From the right, every second symbol (starting with the rightmost of the body) is doubled.
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let value = VOUCHER_CODE_ALPHABET.indexOf(body[i]!);
    if (double) value = Math.floor((value * 2) / n) + ((value * 2) % n);
    sum += value;
  }
  return VOUCHER_CODE_ALPHABET[(n - (sum % n)) % n]!;
}

export function newVoucherCode(): string {
  let body = '';
  for (let i = 0; i < RANDOM_SYMBOLS; i++) body += VOUCHER_CODE_ALPHABET[randomInt(VOUCHER_CODE_ALPHABET.length)];
  return body + checkSymbol(body);
}

/**
 * A typed or scanned code in canonical form ("k7qm 3xpd-9hrt-w2n5" → "K7QM3XPD9HRTW2N5"), or null when it
 * cannot be a voucher code (wrong length, foreign symbol, check symbol does not match).
 */
export function normalizeVoucherCode(raw: string): string | null {
  const code = raw.replace(/[\s-]/g, '').toUpperCase();
  if (!CODE_PATTERN.test(code)) return null;
  return checkSymbol(code.slice(0, -1)) === code.slice(-1) ? code : null;
}

/** For print and screens: four groups of four. */
export function formatVoucherCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/** The masked member line printed on and signed into a voucher. */
export function maskMember(name: string, phone?: string): string {
  const chars = [...name.trim()];
  const masked = `${chars[0] ?? '*'}${'*'.repeat(Math.min(Math.max(chars.length - 1, 1), 2))}`;
  return phone ? `${masked} ${maskPhone(phone)}` : masked;
}

/** Key id: the first 8 bytes of SHA-256 over the public key (SPKI DER), base64url. */
export function voucherKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest().subarray(0, 8).toString('base64url');
}

function assertEd25519(key: KeyObject, type: 'public' | 'private'): void {
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== type) throw new TypeError(`an Ed25519 ${type} key is required`);
}

/** The signed text of a voucher. `publicKey` is the private key's pair (it names the key in the text). */
export function signVoucher(payload: VoucherPayload, privateKey: KeyObject, publicKey: KeyObject): string {
  assertEd25519(privateKey, 'private');
  assertEd25519(publicKey, 'public');
  if (normalizeVoucherCode(payload.code) !== payload.code) throw new TypeError(`not a canonical voucher code: ${payload.code}`);
  const expiresAt = payload.expiresAt.getTime();
  if (!Number.isSafeInteger(expiresAt)) throw new TypeError('expiresAt is not a valid instant');
  const body = JSON.stringify([payload.code, payload.itemId, payload.itemName, payload.member, payload.storeId, expiresAt]);
  const signed = `${PREFIX}.${voucherKeyId(publicKey)}.${Buffer.from(body).toString('base64url')}`;
  return `${signed}.${sign(null, Buffer.from(signed), privateKey).toString('base64url')}`;
}

/** True when the text has the shape of a signed voucher (as opposed to a typed code). */
export function looksLikeSignedVoucher(text: string): boolean {
  return text.startsWith('MKV');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a scanned voucher text offline: shape, version, key, signature (only then is the content trusted),
 * expiry (valid while `at` < expiresAt), and — when `storeId` is given — that this store may write it off.
 * Says precisely why a voucher is refused. Whether it was already used only the hub knows.
 */
export function verifyVoucher(text: string, publicKey: KeyObject, at: Date, options: { storeId?: string } = {}): VoucherVerification {
  assertEd25519(publicKey, 'public');
  const now = at.getTime();
  if (!Number.isSafeInteger(now)) throw new TypeError(`not a valid instant: ${String(at)}`);
  const parts = typeof text === 'string' ? text.trim().split('.') : [];
  if (parts.length !== 4 || !parts.every((part) => BASE64URL.test(part))) return refuse('malformed');
  const [version, kid, body, signature] = parts as [string, string, string, string];
  if (version !== PREFIX) return refuse(version.startsWith('MKV') ? 'unsupported_version' : 'malformed');
  if (kid !== voucherKeyId(publicKey)) return refuse('wrong_key');
  const signatureBytes = Buffer.from(signature, 'base64url');
  if (signatureBytes.length !== 64) return refuse('bad_signature');
  if (!verify(null, Buffer.from(`${version}.${kid}.${body}`), publicKey, signatureBytes)) return refuse('bad_signature');
  const voucher = decodePayload(body);
  // A payload we signed always decodes; failing here means our own signer is broken, not the member's voucher.
  if (voucher === null) return refuse('malformed');
  if (now >= voucher.expiresAt.getTime()) return refuse('expired');
  if (options.storeId !== undefined && voucher.storeId !== null && voucher.storeId !== options.storeId) return refuse('wrong_store');
  return { ok: true, voucher };
}

function decodePayload(body: string): VoucherPayload | null {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || fields.length !== 6) return null;
  const [code, itemId, itemName, member, storeId, expiresAt] = fields as unknown[];
  const strings = [code, itemId, itemName, member].every((value) => typeof value === 'string');
  if (!strings || (storeId !== null && typeof storeId !== 'string') || !Number.isSafeInteger(expiresAt)) return null;
  if (normalizeVoucherCode(code as string) !== code) return null;
  return {
    code: code as string,
    itemId: itemId as string,
    itemName: itemName as string,
    member: member as string,
    storeId: storeId as string | null,
    expiresAt: new Date(expiresAt as number),
  };
}
