import {
  type VoucherRefusal,
  formatVoucherCode,
  looksLikeSignedVoucher,
  normalizeVoucherCode,
  verifyVoucher,
} from '../../shared/rules/voucher.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { refusalOf, type ErrorCode, type HubError } from '../kernel/errors.ts';
import { actorOf, textOf } from '../kernel/input.ts';
import type { RefundContext } from '../kernel/module.ts';
import { memberIdOf, type Ledger, type RefundResult } from '../ledger/index.ts';
import { getStore, storeNotFound } from '../org/index.ts';
import { catalogErrors } from './errors.ts';
import { returnToStock } from './items.ts';
import type { VoucherSigningKey } from './signing-key.ts';

/**
 * Vouchers after they are issued: look-up, write-off (核销) by a cashier at a store — exactly once, at the
 * right store, before expiry — the hub's verification, refund of an unused voucher, and the expiry job.
 *
 * An expired voucher forfeits its points (like an unused coupon) and its unit goes back into stock; a
 * manager can refund a voucher that is still unused (status issued) to return points, cash part and stock.
 */

export const VOUCHER_STATUSES = ['issued', 'written_off', 'expired', 'refunded'] as const;
export type VoucherStatus = (typeof VOUCHER_STATUSES)[number];

export interface Voucher {
  voucherId: string;
  code: string;
  /** The code as printed: "K7QM-3XPD-9HRT-W2N5". */
  displayCode: string;
  /** The signed text for the QR code, verifiable offline. */
  text: string;
  itemId: string;
  memberId: string;
  redeemedStoreId: string;
  /** The only store where it can be written off, or null for any store. */
  storeId: string | null;
  status: VoucherStatus;
  points: number;
  cashFen: number;
  ledgerTxId: string;
  issuedAt: string;
  expiresAt: string;
  writtenOff?: { at: string; storeId: string; actor: Actor };
  refundTxId?: string;
}

interface VoucherRow {
  id: string;
  code: string;
  signed_text: string;
  item_id: string;
  member_id: string;
  redeemed_store_id: string;
  store_id: string | null;
  status: VoucherStatus;
  points: number;
  cash_fen: number;
  ledger_tx_id: string;
  issued_at: Date;
  expires_at: Date;
  written_off_at: Date | null;
  written_off_by_type: Actor['type'] | null;
  written_off_by_id: string | null;
  written_off_store_id: string | null;
  refund_tx_id: string | null;
}

function toVoucher(row: VoucherRow): Voucher {
  return {
    voucherId: row.id,
    code: row.code,
    displayCode: formatVoucherCode(row.code),
    text: row.signed_text,
    itemId: row.item_id,
    memberId: row.member_id,
    redeemedStoreId: row.redeemed_store_id,
    storeId: row.store_id,
    status: row.status,
    points: row.points,
    cashFen: row.cash_fen,
    ledgerTxId: row.ledger_tx_id,
    issuedAt: row.issued_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    ...(row.written_off_at
      ? {
          writtenOff: {
            at: row.written_off_at.toISOString(),
            storeId: row.written_off_store_id!,
            actor: { type: row.written_off_by_type!, id: row.written_off_by_id! },
          },
        }
      : {}),
    ...(row.refund_tx_id ? { refundTxId: row.refund_tx_id } : {}),
  };
}

async function voucherWhere(q: Queryable, column: 'code' | 'ledger_tx_id', value: string): Promise<Voucher | undefined> {
  const { rows } = await q.query<VoucherRow>(`SELECT * FROM vouchers WHERE ${column} = $1`, [value]);
  return rows[0] && toVoucher(rows[0]);
}

export const voucherByCode = (q: Queryable, code: string) => voucherWhere(q, 'code', code);
export const voucherByTx = (q: Queryable, txId: string) => voucherWhere(q, 'ledger_tx_id', txId);

export async function memberVouchers(db: Database, memberId: unknown): Promise<Voucher[]> {
  const id = memberIdOf(memberId);
  const { rows } = await db.query<VoucherRow>('SELECT * FROM vouchers WHERE member_id = $1 ORDER BY issued_at DESC, id DESC LIMIT 200', [id]);
  return rows.map(toVoucher);
}

/** An event in a voucher's audit trail; call inside the transaction that makes the change. */
export async function recordVoucherEvent(
  tx: Queryable,
  event: { voucherId: string; event: VoucherStatus; storeId: string | null; actor: Actor; reason: string },
): Promise<void> {
  await tx.query('INSERT INTO voucher_events (voucher_id, event, store_id, actor_type, actor_id, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
    event.voucherId,
    event.event,
    event.storeId,
    event.actor.type,
    event.actor.id,
    event.reason,
  ]);
}

const SIGNATURE_REFUSAL_CODE: Record<VoucherRefusal, ErrorCode> = {
  malformed: catalogErrors.VOUCHER_INVALID,
  unsupported_version: catalogErrors.VOUCHER_INVALID,
  wrong_key: catalogErrors.VOUCHER_INVALID,
  bad_signature: catalogErrors.VOUCHER_INVALID,
  expired: catalogErrors.VOUCHER_EXPIRED,
  wrong_store: catalogErrors.VOUCHER_WRONG_STORE,
};

/**
 * The code of a scanned signed text (checked exactly as a terminal would offline) or of a typed code.
 * Every refusal names why: not a voucher, altered, signed by someone else, expired, other store.
 */
export function codeOfScan(key: VoucherSigningKey, scanned: unknown, storeId: string, at: Date): string {
  const raw = typeof scanned === 'string' ? scanned.trim() : '';
  if (looksLikeSignedVoucher(raw)) {
    const verdict = verifyVoucher(raw, key.publicKey, at, { storeId });
    if (!verdict.ok) throw SIGNATURE_REFUSAL_CODE[verdict.reason]({ zh: verdict.messageZh, en: verdict.messageEn });
    return verdict.voucher.code;
  }
  const code = normalizeVoucherCode(raw);
  if (code === null) {
    throw catalogErrors.VOUCHER_INVALID({ zh: '兑换码无效，请核对后重新输入', en: 'This is not a valid voucher code; check it and type it again' });
  }
  return code;
}

/** Why a voucher is used up for good (written off, refunded, expired), or undefined while it is issued. */
function spent(voucher: Voucher): HubError | undefined {
  switch (voucher.status) {
    case 'written_off':
      return catalogErrors.VOUCHER_ALREADY_USED({
        zh: `兑换券已于${voucher.writtenOff!.at}在门店${voucher.writtenOff!.storeId}核销`,
        en: `This voucher was already used on ${voucher.writtenOff!.at} at store ${voucher.writtenOff!.storeId}`,
      });
    case 'refunded':
      return catalogErrors.VOUCHER_ALREADY_USED({ zh: '兑换券已退款，不能再使用', en: 'This voucher was refunded and cannot be used' });
    case 'expired':
      return voucherExpired();
    case 'issued':
      return undefined;
  }
}

const voucherExpired = () => catalogErrors.VOUCHER_EXPIRED({ zh: '兑换券已过期', en: 'This voucher has expired' });

/** Why a voucher cannot be written off at this store at this instant, or undefined when it can. */
function unusable(voucher: Voucher, storeId: string, at: Date): HubError | undefined {
  const gone = spent(voucher);
  if (gone) return gone;
  if (at.getTime() >= Date.parse(voucher.expiresAt)) return voucherExpired();
  if (voucher.storeId !== null && voucher.storeId !== storeId) {
    return catalogErrors.VOUCHER_WRONG_STORE({ zh: `此兑换券只能在门店${voucher.storeId}核销`, en: `This voucher can only be used at store ${voucher.storeId}` });
  }
  return undefined;
}

export const voucherNotFound = (): HubError => catalogErrors.VOUCHER_NOT_FOUND({ zh: '查无此兑换券', en: 'No voucher has this code' });

export interface WriteOffInput {
  /** The scanned QR text or the typed code. */
  voucher: string;
  storeId: string;
  actor: Actor;
  reason?: string;
  /** Defaults to now; tests pin it. */
  at?: Date;
}

/**
 * Writes a voucher off (核销) at a store, exactly once: one guarded UPDATE (status issued, not expired, right
 * store) decides, so two cashiers scanning the same voucher at once get one success and one
 * VOUCHER_ALREADY_USED. A refusal changes nothing.
 */
export async function writeOffVoucher(db: Database, key: VoucherSigningKey, input: WriteOffInput): Promise<Voucher> {
  const storeId = textOf(input.storeId, 'storeId', 40);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason ?? '核销 Voucher written off', 'reason', 200);
  const at = input.at ?? new Date();
  const code = codeOfScan(key, input.voucher, storeId, at);
  if (!(await getStore(db, storeId))) throw storeNotFound(storeId);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE vouchers SET status = 'written_off', written_off_at = $3, written_off_by_type = $4, written_off_by_id = $5,
              written_off_store_id = $2
        WHERE code = $1 AND status = 'issued' AND expires_at > $3 AND (store_id IS NULL OR store_id = $2)
        RETURNING id`,
      [code, storeId, at, actor.type, actor.id],
    );
    if (rows.length === 0) {
      const voucher = await voucherByCode(tx, code);
      throw (voucher && unusable(voucher, storeId, at)) ?? voucherNotFound();
    }
    await recordVoucherEvent(tx, { voucherId: rows[0]!.id, event: 'written_off', storeId, actor, reason });
    return (await voucherByCode(tx, code))!;
  });
}

export type HubVerification =
  | { valid: true; voucher: Voucher }
  | { valid: false; code: string; message: string; voucher?: Voucher };

/**
 * What a cashier terminal asks before handing something over: the offline checks plus what only the hub
 * knows (used, refunded). Changes nothing.
 */
export async function verifyAtHub(db: Database, key: VoucherSigningKey, input: { voucher: string; storeId: string; at?: Date }): Promise<HubVerification> {
  const storeId = textOf(input.storeId, 'storeId', 40);
  const at = input.at ?? new Date();
  let code: string;
  try {
    code = codeOfScan(key, input.voucher, storeId, at);
  } catch (error) {
    const refusal = refusalOf(error);
    if (!refusal) throw error;
    return { valid: false, ...refusal };
  }
  const voucher = await voucherByCode(db, code);
  if (!voucher) return { valid: false, code: 'VOUCHER_NOT_FOUND', message: voucherNotFound().message };
  const refusal = unusable(voucher, storeId, at);
  return refusal ? { valid: false, code: refusal.code, message: refusal.message, voucher } : { valid: true, voucher };
}

export interface RefundVoucherInput {
  code: string;
  idempotencyKey: string;
  actor: Actor;
  reason: string;
  /** The store handing the cash part back, for settlement. */
  storeId?: string;
}

/**
 * Refunds an unused voucher through the ledger (cloud/ledger/refunds.ts), which returns the points and the cash
 * part exactly once and hands the rest to reverseVoucher in the same transaction. A replay of the same request
 * returns the first result.
 */
export async function refundVoucher(db: Database, ledger: Ledger, input: RefundVoucherInput): Promise<{ refund: RefundResult; voucher: Voucher }> {
  const code = normalizeVoucherCode(typeof input.code === 'string' ? input.code : '');
  if (code === null) throw voucherNotFound();
  const voucher = await voucherByCode(db, code);
  if (!voucher) throw voucherNotFound();
  // A refunded voucher goes on to the ledger: the same key replays, another key gets ALREADY_REFUNDED.
  if (voucher.status === 'written_off' || voucher.status === 'expired') throw spent(voucher)!;
  const result = await ledger.refund({
    originalTxId: voucher.ledgerTxId,
    idempotencyKey: input.idempotencyKey,
    actor: input.actor,
    reason: input.reason,
    ...(input.storeId === undefined ? {} : { storeId: input.storeId }),
  });
  return { refund: result, voucher: (await voucherByCode(db, code))! };
}

/**
 * The refund of a voucher's redemption, whichever route it came through: the voucher becomes refunded and its
 * unit returns to stock — or, when it was written off or expired meanwhile, the whole refund is refused.
 */
export async function reverseVoucher(tx: Queryable, voucher: Voucher, refund: RefundContext): Promise<void> {
  const { rows } = await tx.query<{ item_id: string; store_id: string | null }>(
    `UPDATE vouchers SET status = 'refunded', refund_tx_id = $2 WHERE id = $1 AND status = 'issued' RETURNING item_id, store_id`,
    [voucher.voucherId, refund.refundTxId],
  );
  if (rows.length === 0) throw spent((await voucherByCode(tx, voucher.code))!)!;
  await returnToStock(tx, rows[0]!.item_id, rows[0]!.store_id, 1);
  await recordVoucherEvent(tx, { voucherId: voucher.voucherId, event: 'refunded', storeId: refund.storeId ?? null, actor: refund.actor, reason: refund.reason });
}

export const VOUCHER_EXPIRY_ACTOR: Actor = { type: 'system', id: 'voucher-expiry-job' };
const EXPIRY_BATCH = 500;

/**
 * Marks issued vouchers whose expiresAt is at or before `asOf` as expired and returns their units to stock,
 * in batches (one transaction each). Safe to run concurrently and repeatedly: each voucher expires once.
 */
export async function expireVouchers(db: Database, { asOf = new Date() }: { asOf?: Date } = {}): Promise<{ expired: number }> {
  let expired = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string; item_id: string; store_id: string | null }>(
        `UPDATE vouchers SET status = 'expired'
          WHERE id IN (SELECT id FROM vouchers WHERE status = 'issued' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, item_id, store_id`,
        [asOf, EXPIRY_BATCH],
      );
      for (const row of rows) {
        await returnToStock(tx, row.item_id, row.store_id, 1);
        await recordVoucherEvent(tx, { voucherId: row.id, event: 'expired', storeId: null, actor: VOUCHER_EXPIRY_ACTOR, reason: 'Voucher expired unused' });
      }
      return rows.length;
    });
    expired += batch;
    if (batch < EXPIRY_BATCH) return { expired };
  }
}
