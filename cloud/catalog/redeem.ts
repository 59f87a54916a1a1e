import { newId } from '../../shared/ids.ts';
import {
  type CatalogItemRules,
  type RedemptionCheck,
  type RefusalReason,
  checkRedemption,
  limitPeriodKey,
} from '../../shared/rules/redemption.ts';
import { maskMember, newVoucherCode, signVoucher } from '../../shared/rules/voucher.ts';
import { instantOf } from '../../shared/rules/window.ts';
import type { CouponView } from '../coupons/index.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { kernelErrors, type ErrorCode, type HubError } from '../kernel/errors.ts';
import { actorOf, idempotencyKeyOf, textOf } from '../kernel/input.ts';
import {
  cardUidOf,
  deviceOf,
  ledgerErrors,
  memberIdOf,
  pointsSpendLegs,
  profileOf,
  storedValueSpendLegs,
  systemAccounts,
  type Ledger,
  type MemberView,
  type PostedTransaction,
} from '../ledger/index.ts';
import { getStore, storeNotFound, type Store } from '../org/index.ts';
import { type Allowance, type BudgetUse, budgetAllowance, consumeBudget, programErrors } from '../program/index.ts';
import { catalogErrors } from './errors.ts';
import { type ItemRow, itemIdOf, readItemRow, rulesOf } from './items.ts';
import { couponRedemptionByTx, couponTermsFor, issueRedemptionCoupon } from './coupon-redemptions.ts';
import type { CatalogRules } from './rules.ts';
import type { VoucherSigningKey } from './signing-key.ts';
import { type Voucher, recordVoucherEvent, voucherByTx } from './vouchers.ts';

/**
 * Redeeming a catalog item: ONE 'points_redemption' ledger transaction takes the points (and the cash part
 * from stored value, split by the program's spending order under the member lock), and in the same database
 * transaction its effects lock the item, re-check the rules with the member's count and the stock as they are
 * now, take one unit from the chain-wide and the store stock with guarded UPDATEs (stock > 0), write the
 * signed voucher (or, for a coupon item, issue the coupon: coupon-redemptions.ts), and take the points from
 * the member's and the store's 'spend' budgets (cloud/program/budgets.ts; all or nothing: BUDGET_EXCEEDED when a cap would be passed). Any refusal rolls all of it back.
 * Idempotent by key: a retry gets the same voucher or coupon. Refunding it gives the budget back (a trigger,
 * migration 012).
 *
 * Lock order: idempotency key → member → member accounts (postTransaction) → item → store stock → budget
 * counters (member, then store). Redemptions of one item queue on the item row, which is what makes "stock 10,
 * 50 buyers" give exactly 10 vouchers. The budget counters come last: a store's counter is shared by every
 * item, and taken before the item lock two redemptions could each hold what the other waits for.
 */

export interface RedeemInput {
  idempotencyKey: string;
  memberId: string;
  itemId: string;
  /** Where the member redeems: its time zone sets the limit period, a per-store item takes this store's stock. */
  storeId: string;
  actor: Actor;
  cardUid?: string;
  deviceId?: string;
  deviceSeq?: number;
  /** The instant of the redemption; defaults to now (tests pin it). */
  at?: Date;
}

/** Exactly one of voucher (every kind but a coupon item) and coupon (an item naming a coupon template). */
export interface RedemptionResult extends PostedTransaction {
  voucher?: Voucher;
  coupon?: CouponView;
}

const CODE_OF_REFUSAL: Record<RefusalReason, ErrorCode> = {
  inactive: catalogErrors.ITEM_NOT_AVAILABLE,
  not_yet_open: catalogErrors.ITEM_NOT_AVAILABLE,
  closed: catalogErrors.ITEM_NOT_AVAILABLE,
  tier_not_allowed: catalogErrors.ITEM_NOT_AVAILABLE,
  limit_reached: catalogErrors.REDEMPTION_LIMIT_REACHED,
  out_of_stock: catalogErrors.OUT_OF_STOCK,
  insufficient_points: ledgerErrors.INSUFFICIENT_POINTS,
  insufficient_stored_value: ledgerErrors.INSUFFICIENT_BALANCE,
};

/** Every code a redemption can be refused with (the route declares them). */
export const REDEMPTION_REFUSALS: readonly ErrorCode[] = [
  ...new Set(Object.values(CODE_OF_REFUSAL)),
  programErrors.BUDGET_EXCEEDED,
  kernelErrors.CONFLICT,
];

function refusalError(check: Extract<RedemptionCheck, { ok: false }>): HubError {
  return CODE_OF_REFUSAL[check.reason]({ zh: check.messageZh, en: check.messageEn });
}

/** The refusal when a spend cap does not cover the redemption's points, naming the cap and what is left of it. */
function budgetExceeded(item: CatalogItemRules, points: number, cap: NonNullable<Allowance['limitedBy']>): HubError {
  const left = Math.max(0, cap.limitPoints - cap.used);
  const zh =
    `${cap.scope === 'member' ? '您' : '本店'}${cap.period === 'day' ? '今日' : '本月'}的积分兑换额度还剩 ${left} 分（上限 ${cap.limitPoints} 分），` +
    `兑换「${item.nameZh}」需要 ${points} 分，未作任何更改`;
  const en =
    `${cap.scope === 'member' ? "The member's" : "This store's"} points spending budget for this ${cap.period} has ${left} of ` +
    `${cap.limitPoints} points left, but "${item.nameEn}" needs ${points}; nothing was changed`;
  return programErrors.BUDGET_EXCEEDED({ zh, en });
}

function outOfStock(item: CatalogItemRules): HubError {
  return catalogErrors.OUT_OF_STOCK({ zh: `「${item.nameZh}」已兑完`, en: `"${item.nameEn}" is out of stock` });
}

/** Units left for a redemption at `storeId`: the smaller of chain-wide and store stock; null = unlimited. */
async function stockLeftAt(q: Queryable, row: ItemRow, storeId: string): Promise<number | null> {
  if (!row.per_store_stock) return row.stock;
  const { rows } = await q.query<{ stock: number }>('SELECT stock FROM catalog_store_stock WHERE item_id = $1 AND store_id = $2', [row.id, storeId]);
  if (!rows[0]) {
    throw catalogErrors.ITEM_NOT_AVAILABLE({ zh: `「${row.name_zh}」本店不提供兑换`, en: `"${row.name_en}" is not offered at this store` });
  }
  return row.stock === null ? rows[0].stock : Math.min(row.stock, rows[0].stock);
}

/**
 * The member's live redemptions of the item in the period containing `at`: its vouchers, or for a coupon item
 * its coupon redemptions (an item edited from voucher to coupon counts both). Refunded ones do not count.
 */
async function redeemedInPeriod(q: Queryable, memberId: string, item: CatalogItemRules, at: Date, timeZone: string): Promise<number> {
  const periodKey = limitPeriodKey(item.memberLimit?.period ?? 'lifetime', at, timeZone);
  const { rows } = await q.query<{ n: number }>(
    `SELECT ((SELECT count(*) FROM vouchers WHERE member_id = $1 AND item_id = $2 AND period_key = $3 AND status <> 'refunded')
          + (SELECT count(*) FROM catalog_coupon_redemptions WHERE member_id = $1 AND item_id = $2 AND period_key = $3 AND refund_tx_id IS NULL))::int AS n`,
    [memberId, item.id, periodKey],
  );
  return rows[0]!.n;
}

export interface RedeemDeps {
  db: Database;
  ledger: Ledger;
  voucherKey: VoucherSigningKey;
  rules: CatalogRules;
}

/** What makes a retried redemption the same one: the member, the item and the store (not the price at the time). */
const fingerprintOf = (memberId: string, itemId: string, storeId: string) => `redeem:${memberId}:${itemId}:${storeId}`;

export async function redeem({ db, ledger, voucherKey, rules }: RedeemDeps, input: RedeemInput): Promise<RedemptionResult> {
  const idempotencyKey = idempotencyKeyOf(input.idempotencyKey);
  const memberId = memberIdOf(input.memberId);
  const itemId = itemIdOf(input.itemId);
  const storeId = textOf(input.storeId, 'storeId', 40);
  const actor = actorOf(input.actor);
  const device = deviceOf(input.deviceId, input.deviceSeq);
  const cardUid = input.cardUid === undefined ? undefined : cardUidOf(input.cardUid);
  const at = input.at ?? new Date();
  instantOf(at);

  // A retry must get its voucher even if the item has sold out or the member's points have run out since.
  const claim = { key: idempotencyKey, owner: 'catalog', fingerprint: fingerprintOf(memberId, itemId, storeId), memberId };
  const earlier = await ledger.earlierResult<{ txId: string; member: MemberView }>(claim);
  if (earlier) return { txId: earlier.txId, replay: true, member: earlier.member, outcome: undefined, ...(await issuedBy(db, earlier.txId)) };

  const store = await getStore(db, storeId);
  if (!store) throw storeNotFound(storeId);
  const row = await readItemRow(db, itemId);
  const item = rulesOf(row);
  const member = await ledger.getMember(memberId);
  // Checked here for a quick, clear refusal; checked again under the item lock in issueVoucher.
  const check = checkRedemption(
    item,
    {
      tier: member.tier,
      redeemedInPeriod: await redeemedInPeriod(db, memberId, item, at, store.timeZone),
      points: member.balances.points,
      storedValueFen: member.balances.principalFen + member.balances.bonusFen,
    },
    { at, timeZone: store.timeZone, stockLeft: await stockLeftAt(db, row, storeId), tiers: rules.tiers },
  );
  if (!check.ok) throw refusalError(check);
  const { points, cashFen } = check.price;
  // Checked here for a clear refusal; consumeBudget in the effects takes it atomically (when a concurrent use got
  // there first, it refuses with BUDGET_EXCEEDED too and everything rolls back).
  const budgetUse: BudgetUse = { memberId, storeId, direction: 'spend', points, at };
  const { limitedBy } = await budgetAllowance(db, rules.budgets, budgetUse);
  if (limitedBy) throw budgetExceeded(item, points, limitedBy);
  // A stopped coupon template refuses here, clearly, rather than in the effects after the points are counted.
  if (item.couponTemplateId !== undefined) await couponTermsFor(db, item, at);

  const pointsLegs = pointsSpendLegs(points);
  const posted = await ledger.post({
    kind: 'points_redemption',
    owner: 'catalog',
    idempotencyKey,
    fingerprint: claim.fingerprint,
    memberId,
    actor,
    reason: `积分兑换 Redeemed: ${item.nameZh} ${item.nameEn}`,
    storeId,
    ...(cardUid === undefined ? {} : { cardUid }),
    ...device,
    // The cash part's principal/bonus split depends on the balances, so it is computed under the member lock.
    legs:
      cashFen === 0
        ? pointsLegs
        : (balances) => ({ legs: [...storedValueSpendLegs(rules.spendingOrder, balances, cashFen, systemAccounts.storedValueSpent()), ...pointsLegs], context: undefined }),
    intent: { itemId, itemVersion: row.version, points, cashFen, spendingOrder: rules.spendingOrder },
    effects: async (tx, { txId }) => {
      await issue(tx, { txId, voucherKey, rules, pricedRow: row, member, store, at, points, cashFen, actor });
      // Recorded against txId, so refunding the voucher releases it; after the item and stock (see the lock order).
      await consumeBudget(tx, rules.budgets, budgetUse, txId);
      return undefined;
    },
  });
  return { ...posted, ...(await issuedBy(db, posted.txId)) };
}

/** What a redemption gave the member: its voucher, or the coupon of a coupon item. */
async function issuedBy(q: Queryable, txId: string): Promise<{ voucher: Voucher } | { coupon: CouponView }> {
  const voucher = await voucherByTx(q, txId);
  if (voucher) return { voucher };
  const redemption = await couponRedemptionByTx(q, txId);
  if (!redemption) throw new Error(`redemption ${txId} issued neither a voucher nor a coupon`);
  return { coupon: redemption.coupon };
}

interface IssueInput {
  txId: string;
  voucherKey: VoucherSigningKey;
  rules: CatalogRules;
  /** The item as it was priced; a change since then refuses the redemption rather than charge an old price. */
  pricedRow: ItemRow;
  member: MemberView;
  store: Store;
  at: Date;
  points: number;
  cashFen: number;
  actor: Actor;
}

/**
 * The redemption's effects, inside its ledger transaction (see the module comment): the unit taken, then the
 * voucher written, or for an item naming a coupon template the coupon issued (coupon-redemptions.ts).
 */
async function issue(tx: Queryable, input: IssueInput): Promise<void> {
  const { pricedRow, member, store, at } = input;
  const row = await readItemRow(tx, pricedRow.id, { forUpdate: true });
  const item = rulesOf(row);
  if (row.version !== pricedRow.version) {
    throw kernelErrors.CONFLICT({ zh: `「${item.nameZh}」刚刚更新，请重试`, en: `"${item.nameEn}" was just changed; please try again` });
  }
  const check = checkRedemption(
    item,
    { tier: member.tier, redeemedInPeriod: await redeemedInPeriod(tx, member.memberId, item, at, store.timeZone) },
    { at, timeZone: store.timeZone, stockLeft: await stockLeftAt(tx, row, store.storeId), tiers: input.rules.tiers },
  );
  if (!check.ok) throw refusalError(check);

  // The guards that hold even if the check above were wrong: stock never goes below zero.
  if (row.stock !== null) {
    const taken = await tx.query('UPDATE catalog_items SET stock = stock - 1 WHERE id = $1 AND stock > 0 RETURNING stock', [row.id]);
    if (taken.rows.length === 0) throw outOfStock(item);
  }
  if (row.per_store_stock) {
    const taken = await tx.query(
      'UPDATE catalog_store_stock SET stock = stock - 1, updated_at = now() WHERE item_id = $1 AND store_id = $2 AND stock > 0 RETURNING stock',
      [row.id, store.storeId],
    );
    if (taken.rows.length === 0) throw outOfStock(item);
  }

  if (item.couponTemplateId !== undefined) {
    const { txId, points, cashFen, actor } = input;
    await issueRedemptionCoupon(tx, {
      txId,
      item,
      memberId: member.memberId,
      storeId: store.storeId,
      stockStoreId: row.per_store_stock ? store.storeId : null,
      points,
      cashFen,
      periodKey: check.periodKey,
      at,
      actor,
    });
    return;
  }
  const profile = await profileOf(tx, member.memberId);
  const code = newVoucherCode();
  const writeOffStore = row.per_store_stock ? store.storeId : null;
  const text = signVoucher(
    {
      code,
      itemId: row.id,
      itemName: `${item.nameZh} ${item.nameEn}`,
      member: maskMember(profile.name, profile.phone),
      storeId: writeOffStore,
      expiresAt: check.voucherExpiresAt,
    },
    input.voucherKey.privateKey,
    input.voucherKey.publicKey,
  );
  const voucherId = newId();
  // 75 random bits: a code collision is not a case to handle (the UNIQUE index would fail the redemption).
  await tx.query(
    `INSERT INTO vouchers (id, code, item_id, member_id, redeemed_store_id, store_id, ledger_tx_id, points, cash_fen, period_key,
                           issued_at, expires_at, signed_text)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [voucherId, code, row.id, member.memberId, store.storeId, writeOffStore, input.txId, input.points, input.cashFen, check.periodKey, at, check.voucherExpiresAt, text],
  );
  await recordVoucherEvent(tx, { voucherId, event: 'issued', storeId: store.storeId, actor: input.actor, reason: 'Redeemed with points' });
}
