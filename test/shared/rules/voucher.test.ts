import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  VOUCHER_CODE_ALPHABET,
  type VoucherPayload,
  formatVoucherCode,
  maskMember,
  newVoucherCode,
  normalizeVoucherCode,
  signVoucher,
  verifyVoucher,
  voucherKeyId,
} from '../../../shared/rules/voucher.ts';

const hub = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const storeA = '0195f000-0000-7000-8000-00000000000a';
const storeB = '0195f000-0000-7000-8000-00000000000b';
const payload: VoucherPayload = {
  code: newVoucherCode(),
  itemId: '0195f000-0000-7000-8000-000000000001',
  itemName: '拿铁 Latte',
  member: '张** 138****5678',
  storeId: storeA,
  expiresAt: new Date('2026-07-01T00:00:00+08:00'),
};
const before = new Date('2026-06-30T23:59:59.999+08:00');
const text = signVoucher(payload, hub.privateKey, hub.publicKey);

/** The text with one part's decoded payload field replaced, re-encoded but not re-signed. */
function withField(index: number, value: unknown): string {
  const [version, kid, body, signature] = text.split('.');
  const fields = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as unknown[];
  fields[index] = value;
  return [version, kid, Buffer.from(JSON.stringify(fields)).toString('base64url'), signature].join('.');
}

describe('voucher codes', () => {
  it('are 16 symbols of the unambiguous alphabet, with a valid check symbol, and unique', () => {
    const codes = new Set(Array.from({ length: 5_000 }, newVoucherCode));
    expect(codes.size).toBe(5_000);
    for (const code of codes) {
      expect(code).toMatch(/^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{16}$/);
      expect(normalizeVoucherCode(code)).toBe(code);
    }
    expect(VOUCHER_CODE_ALPHABET).toHaveLength(32); // 15 random symbols × 5 bits = 75 bits
    expect(VOUCHER_CODE_ALPHABET).not.toMatch(/[01OI]/);
  });

  it('normalizes typed forms: case, dashes, spaces', () => {
    const code = newVoucherCode();
    const typed = formatVoucherCode(code).toLowerCase().replace('-', ' ');
    expect(formatVoucherCode(code)).toMatch(/^.{4}-.{4}-.{4}-.{4}$/);
    expect(normalizeVoucherCode(typed)).toBe(code);
  });

  it('refuses every single-symbol typo and every swap of two different neighbours', () => {
    const code = newVoucherCode();
    for (let i = 0; i < code.length; i++) {
      for (const symbol of VOUCHER_CODE_ALPHABET) {
        if (symbol === code[i]) continue;
        expect(normalizeVoucherCode(code.slice(0, i) + symbol + code.slice(i + 1))).toBeNull();
      }
    }
    for (let i = 0; i + 1 < code.length; i++) {
      if (code[i] === code[i + 1]) continue;
      const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
      // Luhn mod N misses only the swap of the two symbols whose values are 0 and N-1.
      const pair = [code[i], code[i + 1]].sort().join('');
      if (pair !== '2Z') expect(normalizeVoucherCode(swapped)).toBeNull();
    }
  });

  it.each(['', 'ABC', 'O000000000000000', `${'2'.repeat(15)}1`, '2'.repeat(17)])('refuses %j', (raw) => {
    expect(normalizeVoucherCode(raw)).toBeNull();
  });
});

describe('maskMember', () => {
  it.each([
    ['张三丰', '13812345678', '张** 138****5678'],
    ['张三', undefined, '张*'],
    ['Li', undefined, 'L*'],
    ['王', '13800001111', '王* 138****1111'],
  ])('%s / %s → %s', (name, phone, masked) => {
    expect(maskMember(name, phone)).toBe(masked);
  });
});

describe('signed vouchers', () => {
  it('verify offline with the public key and give back every field', () => {
    expect(text.startsWith(`MKV1.${voucherKeyId(hub.publicKey)}.`)).toBe(true);
    expect(verifyVoucher(text, hub.publicKey, before, { storeId: storeA })).toEqual({ ok: true, voucher: payload });
    // A QR code of version 13 at error correction L holds 367 bytes: a receipt printer draws that easily.
    expect(text.length).toBeLessThanOrEqual(367);
  });

  it('a chain-wide voucher (no store) is valid at any store', () => {
    const anyStore = signVoucher({ ...payload, storeId: null }, hub.privateKey, hub.publicKey);
    expect(verifyVoucher(anyStore, hub.publicKey, before, { storeId: storeB })).toMatchObject({ ok: true });
  });

  it('expires at expiresAt exactly (valid 1 ms before)', () => {
    expect(verifyVoucher(text, hub.publicKey, payload.expiresAt)).toMatchObject({ ok: false, reason: 'expired' });
    expect(verifyVoucher(text, hub.publicKey, before).ok).toBe(true);
  });

  it('is refused at another store, with a bilingual message', () => {
    expect(verifyVoucher(text, hub.publicKey, before, { storeId: storeB })).toEqual({
      ok: false,
      reason: 'wrong_store',
      messageZh: '此兑换券不能在本店核销',
      messageEn: 'This voucher cannot be used at this store',
    });
  });

  it.each([
    ['code', 0, newVoucherCode()],
    ['itemId', 1, '0195f000-0000-7000-8000-000000000002'],
    ['itemName', 2, '蛋糕 Cake'],
    ['member', 3, '李** 139****0000'],
    ['storeId', 4, null],
    ['expiresAt', 5, new Date('2099-01-01T00:00:00Z').getTime()],
  ])('tampering with %s breaks the signature', (_field, index, value) => {
    expect(verifyVoucher(withField(index, value), hub.publicKey, before)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('an altered signature or one re-used from another voucher is refused', () => {
    const [version, kid, body, signature] = text.split('.') as [string, string, string, string];
    const flipped = Buffer.from(signature, 'base64url');
    flipped[10]! ^= 0x01;
    expect(verifyVoucher([version, kid, body, flipped.toString('base64url')].join('.'), hub.publicKey, before)).toMatchObject({
      reason: 'bad_signature',
    });
    const otherVoucher = signVoucher({ ...payload, code: newVoucherCode() }, hub.privateKey, hub.publicKey);
    expect(verifyVoucher([version, kid, body, otherVoucher.split('.')[3]].join('.'), hub.publicKey, before)).toMatchObject({
      reason: 'bad_signature',
    });
    expect(verifyVoucher([version, kid, body, 'AAAA'].join('.'), hub.publicKey, before)).toMatchObject({ reason: 'bad_signature' });
  });

  it('a voucher signed with another key is refused as wrong_key, also when its key id is forged', () => {
    const forged = signVoucher(payload, other.privateKey, other.publicKey);
    expect(verifyVoucher(forged, hub.publicKey, before)).toMatchObject({ ok: false, reason: 'wrong_key' });
    const [version, , body, signature] = forged.split('.');
    const relabelled = [version, voucherKeyId(hub.publicKey), body, signature].join('.');
    expect(verifyVoucher(relabelled, hub.publicKey, before)).toMatchObject({ ok: false, reason: 'bad_signature' });
    // Verifying our own voucher with a wrong public key is the same refusal.
    expect(verifyVoucher(text, other.publicKey, before)).toMatchObject({ reason: 'wrong_key' });
  });

  it.each([
    ['empty', ''],
    ['a typed code', 'K7QM-3XPD-9HRT-W2N5'],
    ['three parts', text.split('.').slice(0, 3).join('.')],
    ['not base64url', text.replace('.', '.!')],
    ['another scheme', `XYZ1${text.slice(4)}`],
  ])('malformed: %s', (_label, input) => {
    expect(verifyVoucher(input, hub.publicKey, before)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('a future version is named as such', () => {
    expect(verifyVoucher(`MKV2${text.slice(4)}`, hub.publicKey, before)).toMatchObject({ reason: 'unsupported_version' });
  });

  it('refuses to sign a non-canonical code or with the wrong kind of key', () => {
    expect(() => signVoucher({ ...payload, code: 'abc' }, hub.privateKey, hub.publicKey)).toThrow(TypeError);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => signVoucher(payload, rsa.privateKey, hub.publicKey)).toThrow(TypeError);
    expect(() => verifyVoucher(text, hub.privateKey, before)).toThrow(TypeError);
  });
});
