import { randomBytes } from 'node:crypto';
import { newId } from '../../shared/ids.ts';
import type { BudgetRules } from '../../shared/rules/budget.ts';
import { describeOffer, type CouponTemplate } from '../../shared/rules/coupons.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { actorOf, idempotencyKeyOf, textOf } from '../kernel/input.ts';
import { memberIdOf, memberNotFound, pointsSpendLegs, type Ledger } from '../ledger/index.ts';
import { budgetAllowance, consumeBudget, programErrors } from '../program/index.ts';
import { recordCouponAudit } from './audit.ts';
import { couponErrors } from './errors.ts';
import { getTemplate, type CouponTemplateView } from './templates.ts';

/** Coupons in members' hands: issue (given or bought with points), use inside a checkout, restore on refund. */

/** 'voided': the catalog redemption that issued it was refunded (cloud/catalog/coupon-redemptions.ts). */
export const COUPON_STATUSES = ['issued', 'used', 'expired', 'voided'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

export interface CouponView {
  couponId: string;
  code: string;
  templateId: string;
  memberId: string;
  /** The template's terms when the coupon was issued. */
  terms: CouponTemplate;
  label: { zh: string; en: string };
  status: CouponStatus;
  issuedAt: string;
  usedInCheckoutId?: string;
  /** The points_redemption transaction that paid for a points-exchange coupon. */
  purchaseTxId?: string;
}

interface CouponRow {
  id: string;
  code: string;
  template_id: string;
  member_id: string;
  terms: CouponTemplate;
  status: CouponStatus;
  issue_key: string;
  issued_at: Date;
  used_in_checkout_id: string | null;
  purchase_tx_id: string | null;
}

const toView = (row: CouponRow): CouponView => ({
  couponId: row.id,
  code: row.code,
  templateId: row.template_id,
  memberId: row.member_id,
  terms: row.terms,
  label: describeOffer(row.terms),
  status: row.status,
  issuedAt: new Date(row.issued_at).toISOString(),
  ...(row.used_in_checkout_id ? { usedInCheckoutId: row.used_in_checkout_id } : {}),
  ...(row.purchase_tx_id ? { purchaseTxId: row.purchase_tx_id } : {}),
});

/** Crockford base32 (no I, L, O, U): easy to read aloud and type at a till. 60 random bits. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export function newCouponCode(): string {
  const chars = [...randomBytes(12)].map((byte) => CODE_ALPHABET[byte & 31]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4, 8).join('')}-${chars.slice(8).join('')}`;
}

/** "abcd-efgh-jkmn", spaces and lower case as typed at a till → the stored form; null when it cannot be a code. */
export function normalizeCouponCode(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const compact = value.toUpperCase().replace(/[\s-]/g, '');
  if (!/^[0-9A-HJKMNP-TV-Z]{12}$/.test(compact)) return null;
  return `${compact.slice(0, 4)}-${compact.slice(4, 8)}-${compact.slice(8)}`;
}

export async function listMemberCoupons(q: Queryable, memberId: string, status?: CouponStatus): Promise<CouponView[]> {
  const { rows } = await q.query<CouponRow>(
    'SELECT * FROM coupons WHERE member_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY issued_at DESC, id',
    [memberIdOf(memberId), status ?? null],
  );
  return rows.map(toView);
}

export interface IssueCouponInput {
  templateId: string;
  memberId: string;
  /** Unique per intended issue: a retry with the same key returns the coupon already issued. */
  issueKey: string;
  actor: Actor;
  reason: string;
  /** When the issue happens (default now): an expired template cannot be issued. */
  at?: Date;
  storeId?: string;
  /** The program's points budgets: buying a points-exchange coupon is a points spend they may refuse. */
  budgets?: BudgetRules;
}

/**
 * Issues one coupon from an active template. A points-exchange template (pointsCost > 0) is bought: one
 * 'points_redemption' ledger transaction takes the points and creates the coupon atomically (its effects),
 * under the same idempotency key. Otherwise the coupon is simply inserted. `created` is false on a replay.
 */
export async function issueCoupon(db: Database, ledger: Ledger, input: IssueCouponInput): Promise<{ coupon: CouponView; created: boolean }> {
  const issueKey = idempotencyKeyOf(input.issueKey);
  const memberId = memberIdOf(input.memberId);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const template = await getTemplate(db, input.templateId);
  const existing = await byIssueKey(db, issueKey);
  if (existing) return { coupon: sameIssue(existing, template.templateId, memberId), created: false };
  const terms = termsToIssue(template, input.at ?? new Date());
  const insert = (tx: Queryable, purchaseTxId: string | null) =>
    insertCoupon(tx, { template, terms, memberId, issueKey, purchaseTxId, actor, reason });

  const pointsCost = template.pointsCost ?? 0;
  if (pointsCost > 0) {
    const at = input.at ?? new Date();
    const use = { memberId, storeId: input.storeId ?? null, direction: 'spend', points: pointsCost, at } as const;
    // All or nothing, like any redemption; consumeBudget below re-checks atomically.
    if (input.budgets && (await budgetAllowance(db, input.budgets, use)).allowedPoints < pointsCost) {
      throw programErrors.BUDGET_EXCEEDED({ zh: '积分使用额度不足', en: 'The points spending budget does not allow this many points now; nothing was changed.' });
    }
    const posted = await ledger.post({
      kind: 'points_redemption',
      owner: 'coupons',
      idempotencyKey: issueKey,
      memberId,
      actor,
      // Names the coupon in the member's statement; cut to the ledger's reason limit.
      reason: `优惠券「${template.nameZh}」/ Coupon ${template.nameEn}: ${reason}`.slice(0, 200),
      ...(input.storeId === undefined ? {} : { storeId: input.storeId }),
      legs: pointsSpendLegs(pointsCost),
      effects: async (tx, { txId }) => {
        const created = await insert(tx, txId);
        if (input.budgets) await consumeBudget(tx, input.budgets, use, txId);
        return created?.couponId;
      },
    });
    if (!posted.replay && posted.outcome) return { coupon: (await couponById(db, posted.outcome))!, created: true };
    const row = await byIssueKey(db, issueKey);
    if (!row) throw new Error(`points were taken under ${posted.txId} but no coupon was found`);
    return { coupon: sameIssue(row, template.templateId, memberId), created: !posted.replay };
  }
  try {
    const coupon = await db.transaction((tx) => insert(tx, null));
    if (coupon) return { coupon, created: true };
  } catch (error) {
    if ((error as { code?: string }).code === '23503') throw memberNotFound(memberId);
    throw error;
  }
  // A concurrent request with the same key got there first.
  return { coupon: sameIssue((await byIssueKey(db, issueKey))!, template.templateId, memberId), created: false };
}

/**
 * The terms a coupon issued from this template at `at` carries; refuses (COUPON_NOT_APPLICABLE) a template that
 * is no longer issued or whose validity has ended.
 */
export function termsToIssue(template: CouponTemplateView, at: Date): CouponTemplate {
  if (!template.active) throw couponErrors.COUPON_NOT_APPLICABLE({ zh: '此优惠券已停止发放', en: 'This coupon template is no longer issued' });
  const { validUntil } = template.conditions;
  if (validUntil !== undefined && Date.parse(validUntil) <= at.getTime()) {
    throw couponErrors.COUPON_NOT_APPLICABLE({ zh: '此优惠券模板已过期，不能再发放', en: 'This coupon template has expired; it cannot be issued any more' });
  }
  return {
    nameZh: template.nameZh,
    nameEn: template.nameEn,
    offer: template.offer,
    conditions: template.conditions,
    ...(template.pointsCost === undefined ? {} : { pointsCost: template.pointsCost }),
  };
}

export interface InsertCouponInput {
  template: CouponTemplateView;
  terms: CouponTemplate;
  memberId: string;
  issueKey: string;
  /** The ledger transaction that paid for it (a points exchange, a catalog redemption), or null when given. */
  purchaseTxId: string | null;
  actor: Actor;
  reason: string;
}

/**
 * Writes one coupon and its 'issued' audit row inside the caller's transaction (e.g. a ledger transaction's
 * effects); undefined when a coupon with this issue key already exists.
 */
export async function insertCoupon(tx: Queryable, input: InsertCouponInput): Promise<CouponView | undefined> {
  const { rows } = await tx.query<CouponRow>(
    `INSERT INTO coupons (id, code, template_id, member_id, terms, valid_until, issue_key, purchase_tx_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) ON CONFLICT (issue_key) DO NOTHING RETURNING *`,
    [newId(), newCouponCode(), input.template.templateId, input.memberId, JSON.stringify(input.terms), input.terms.conditions.validUntil ?? null, input.issueKey, input.purchaseTxId],
  );
  const row = rows[0];
  if (!row) return undefined;
  await recordCouponAudit(tx, { couponId: row.id, templateId: row.template_id, action: 'issued', actor: input.actor, reason: input.reason, detail: { memberId: input.memberId } });
  return toView(row);
}

async function byIssueKey(q: Queryable, issueKey: string): Promise<CouponRow | undefined> {
  return (await q.query<CouponRow>('SELECT * FROM coupons WHERE issue_key = $1', [issueKey])).rows[0];
}

function sameIssue(row: CouponRow, templateId: string, memberId: string): CouponView {
  if (row.template_id !== templateId || row.member_id !== memberId) {
    throw kernelErrors.IDEMPOTENCY_CONFLICT({
      zh: '该请求编号已用于发放另一张优惠券，本次未做任何更改',
      en: 'This request key was already used to issue a different coupon, so nothing was done',
    });
  }
  return toView(row);
}

/**
 * The member's coupon with this code, ready to use: 404 COUPON_NOT_FOUND when no such coupon is theirs,
 * 409 COUPON_ALREADY_USED / COUPON_NOT_APPLICABLE (expired) when it cannot be used any more.
 */
export async function usableCoupon(q: Queryable, memberId: string, rawCode: unknown): Promise<CouponView> {
  const code = normalizeCouponCode(rawCode);
  const notFound = couponErrors.COUPON_NOT_FOUND({ zh: '该会员没有这个券码的优惠券', en: 'This member holds no coupon with that code' });
  if (code === null) throw notFound;
  const { rows } = await q.query<CouponRow>('SELECT * FROM coupons WHERE code = $1 AND member_id = $2', [code, memberId]);
  const row = rows[0];
  if (!row) throw notFound;
  if (row.status === 'used') throw alreadyUsed();
  if (row.status === 'expired') throw couponErrors.COUPON_NOT_APPLICABLE({ zh: '此券已过期', en: 'This coupon has expired.' });
  if (row.status === 'voided') throw couponErrors.COUPON_NOT_APPLICABLE({ zh: '此券已作废（兑换已退款）', en: 'This coupon was cancelled: its redemption was refunded.' });
  return toView(row);
}

const alreadyUsed = () => couponErrors.COUPON_ALREADY_USED({ zh: '此券已使用', en: 'This coupon has already been used.' });

/**
 * Marks the coupon used by a checkout, inside the checkout's transaction. The status guard in the UPDATE
 * makes it exactly once: of two concurrent checkouts with one coupon, the second finds it used (PostgreSQL
 * re-checks the WHERE after the first commits) and its whole transaction is refused.
 */
export async function markCouponUsed(tx: Queryable, use: { couponId: string; memberId: string; checkoutId: string; actor: Actor; reason: string }): Promise<void> {
  const { rows } = await tx.query(
    `UPDATE coupons SET status = 'used', used_in_checkout_id = $3, used_at = now()
      WHERE id = $1 AND member_id = $2 AND status = 'issued' RETURNING id`,
    [use.couponId, use.memberId, use.checkoutId],
  );
  if (rows.length === 0) throw alreadyUsed();
  await recordCouponAudit(tx, { couponId: use.couponId, action: 'used', actor: use.actor, reason: use.reason, detail: { checkoutId: use.checkoutId } });
}

/** Gives a coupon back to the member when the checkout that used it is refunded (the expiry job may then expire it). */
export async function restoreCoupon(tx: Queryable, restore: { couponId: string; checkoutId: string; actor: Actor; reason: string }): Promise<void> {
  const { rows } = await tx.query(
    `UPDATE coupons SET status = 'issued', used_in_checkout_id = NULL, used_at = NULL
      WHERE id = $1 AND status = 'used' AND used_in_checkout_id = $2 RETURNING id`,
    [restore.couponId, restore.checkoutId],
  );
  if (rows.length === 0) throw new Error(`coupon ${restore.couponId} was not used by checkout ${restore.checkoutId}`);
  await recordCouponAudit(tx, { couponId: restore.couponId, action: 'restored', actor: restore.actor, reason: restore.reason, detail: { checkoutId: restore.checkoutId } });
}

/**
 * Voids an unused coupon inside the caller's transaction (the refund of the redemption that issued it): one
 * guarded UPDATE, so a coupon used by a concurrent checkout is never voided. Refuses a used coupon
 * (COUPON_ALREADY_USED) and an expired one (COUPON_NOT_APPLICABLE); the caller's transaction then rolls back.
 */
export async function voidCoupon(tx: Queryable, input: { couponId: string; actor: Actor; reason: string; detail?: Record<string, unknown> }): Promise<CouponView> {
  const { rows } = await tx.query<CouponRow>(`UPDATE coupons SET status = 'voided' WHERE id = $1 AND status = 'issued' RETURNING *`, [input.couponId]);
  const row = rows[0];
  if (!row) {
    const { rows: now } = await tx.query<CouponRow>('SELECT * FROM coupons WHERE id = $1', [input.couponId]);
    const status = now[0]?.status;
    if (status === 'used') {
      const checkoutId = now[0]!.used_in_checkout_id;
      throw couponErrors.COUPON_ALREADY_USED({
        zh: `此券已在结账${checkoutId}中使用，不能退款；请先退该笔结账`,
        en: `This coupon was already used in checkout ${checkoutId}; refund that checkout first.`,
      });
    }
    if (status === 'expired') throw couponErrors.COUPON_NOT_APPLICABLE({ zh: '此券已过期，不能退款', en: 'This coupon has expired; it cannot be refunded.' });
    throw new Error(`coupon ${input.couponId} cannot be voided (status ${String(status)})`);
  }
  await recordCouponAudit(tx, { couponId: row.id, templateId: row.template_id, action: 'voided', actor: input.actor, reason: input.reason, ...(input.detail ? { detail: input.detail } : {}) });
  return toView(row);
}

/** The coupon with this id (any status), for callers that keep the id, e.g. a catalog redemption. */
export async function couponById(q: Queryable, couponId: string): Promise<CouponView | undefined> {
  const { rows } = await q.query<CouponRow>('SELECT * FROM coupons WHERE id = $1', [couponId]);
  return rows[0] && toView(rows[0]);
}
