import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../shared/logger.ts';
import { voucherKeyId } from '../../shared/rules/voucher.ts';

/**
 * The hub's Ed25519 key for signing vouchers. Kiosks and cashier terminals verify offline with the public
 * half (GET /vouchers/signing-key), so the key must stay the same across restarts and across hub instances.
 *
 * Where it comes from, safest first:
 *  1. HUB_VOUCHER_SIGNING_KEY: the private key as PKCS#8 PEM (`openssl genpkey -algorithm ed25519`). Use this in
 *     production, the same value on every hub instance.
 *  2. Development: generated once and kept in `<dataDir>/voucher-signing-key.pem`, readable by its owner only.
 *  3. Neither (tests, an in-memory hub): a key for this process only, with a warning — vouchers it signs
 *     stop verifying when the process ends.
 * The private key never reaches a log line or a response; logs name the key by its id (a hash of the public key).
 */
export interface VoucherSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The id printed in every voucher text; changes only with the key. */
  readonly keyId: string;
  /** The public key as SPKI PEM, for devices. */
  readonly publicKeyPem: string;
}

const DEV_KEY_FILE = 'voucher-signing-key.pem';

export class VoucherKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VoucherKeyError';
  }
}

function fromPrivateKey(privateKey: KeyObject): VoucherSigningKey {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    keyId: voucherKeyId(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Parses a PKCS#8 PEM Ed25519 private key; the error never repeats the key material. */
export function parseVoucherSigningKey(pem: string, source = 'HUB_VOUCHER_SIGNING_KEY'): VoucherSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new VoucherKeyError(`${source} is not a PEM private key (expected PKCS#8 from "openssl genpkey -algorithm ed25519")`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new VoucherKeyError(`${source} must be an Ed25519 key, not ${String(privateKey.asymmetricKeyType)}`);
  }
  return fromPrivateKey(privateKey);
}

export function generateVoucherSigningKey(): VoucherSigningKey {
  return fromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/** Picks the key as described above. */
export async function loadVoucherSigningKey(options: { pem?: string; dataDir?: string; logger?: Logger }): Promise<VoucherSigningKey> {
  const { pem, dataDir, logger } = options;
  if (pem?.trim()) {
    const key = parseVoucherSigningKey(pem);
    logger?.info({ keyId: key.keyId }, 'voucher signing key from HUB_VOUCHER_SIGNING_KEY');
    return key;
  }
  if (!dataDir) {
    const key = generateVoucherSigningKey();
    logger?.warn({ keyId: key.keyId }, 'no HUB_VOUCHER_SIGNING_KEY: vouchers are signed with a key that lasts only while this process runs');
    return key;
  }
  const file = join(dataDir, DEV_KEY_FILE);
  const key = await readOrCreateDevKey(file);
  logger?.warn(
    { keyId: key.keyId, file },
    'no HUB_VOUCHER_SIGNING_KEY: using the development voucher key kept in the data directory; set HUB_VOUCHER_SIGNING_KEY in production',
  );
  return key;
}

async function readOrCreateDevKey(file: string): Promise<VoucherSigningKey> {
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) return parseVoucherSigningKey(existing, file);
  const key = generateVoucherSigningKey();
  await mkdir(join(file, '..'), { recursive: true });
  // Written whole to a private temporary file, then linked into place: link() never overwrites and makes the
  // file appear complete, so a hub starting at the same moment reads either no key or a whole one — and if it
  // linked its key first, that is the one both use.
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return parseVoucherSigningKey(await readFile(file, 'utf8'), file);
  } finally {
    await unlink(temporary);
  }
  return key;
}
