import { inSegment, isMonthDay, segmentProblems, type CouponSegment } from '../../shared/rules/coupons.ts';
import type { Database, Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import { memberNotFound } from '../ledger/members.ts';
import type { Actor } from '../ledger/types.ts';
import { actorOf, memberIdOf, textOf } from '../ledger/validate.ts';
import { recordCouponAudit, type ProgressLog } from './audit.ts';
import { issueCoupon } from './coupons.ts';
import { getTemplate } from './templates.ts';

/** Targeted issue: one coupon to every member of a segment (lapsed customers, birthday month). */

export interface TargetedIssueInput {
  templateId: string;
  segment: CouponSegment;
  /**
   * Names this campaign run: each member gets at most one coupon per campaign key, so running the same
   * campaign again (a retry, a second click) issues nothing twice. Use e.g. "birthday-2026-03".
   */
  campaignKey: string;
  actor: Actor;
  reason: string;
  /** Only members whose home store is one of these; undefined = every member (headquarters). */
  storeIds?: readonly string[];
  at?: Date;
  logger?: ProgressLog;
}

export interface TargetedIssueResult {
  /** Members in the segment (within the stores). */
  matched: number;
  /** Coupons issued by this run. */
  issued: number;
  /** Members who already had this campaign's coupon. */
  alreadyIssued: number;
}

const PAGE = 500;

interface FactsRow {
  id: string;
  birth_month_day: string | null;
  last_purchase: Date | null;
}

/** The segment is judged by the pure rule (shared/rules/coupons.ts) over facts read page by page. */
export async function issueToSegment(db: Database, input: TargetedIssueInput): Promise<TargetedIssueResult> {
  const problems = segmentProblems(input.segment);
  if (problems.length > 0) throw new LedgerError('INVALID_INPUT', `The segment is invalid: ${problems.join('; ')}.`);
  const campaignKey = textOf(input.campaignKey, 'campaignKey', 100);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const template = await getTemplate(db, input.templateId);
  if ((template.pointsCost ?? 0) > 0) {
    throw new LedgerError('INVALID_INPUT', 'A points-exchange coupon is bought by the member; it cannot be issued to a segment.');
  }
  const at = input.at ?? new Date();
  const result: TargetedIssueResult = { matched: 0, issued: 0, alreadyIssued: 0 };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await factsPage(db, after, input.storeIds);
    for (const row of page) {
      const facts = { lastPurchaseAt: row.last_purchase === null ? null : new Date(row.last_purchase), birthMonthDay: row.birth_month_day };
      if (!inSegment(input.segment, facts, at)) continue;
      result.matched += 1;
      const { created } = await issueCoupon(db, {
        templateId: template.templateId,
        memberId: row.id,
        issueKey: `campaign:${campaignKey}:${row.id}`,
        actor,
        reason,
        at,
      });
      if (created) result.issued += 1;
      else result.alreadyIssued += 1;
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
    input.logger?.info({ templateId: template.templateId, campaignKey, ...result }, 'targeted coupon issue in progress');
  }
  input.logger?.info({ templateId: template.templateId, campaignKey, ...result }, 'targeted coupon issue done');
  return result;
}

/** Members after `after` (by id) with their birthday and latest purchase that was not refunded. */
async function factsPage(q: Queryable, after: string, storeIds: readonly string[] | undefined): Promise<FactsRow[]> {
  const { rows } = await q.query<FactsRow>(
    `SELECT m.id, m.birth_month_day,
            (SELECT max(c.occurred_at) FROM checkouts c WHERE c.member_id = m.id AND c.refunded_at IS NULL) AS last_purchase
       FROM members m
      WHERE m.id > $1 AND ($2::text[] IS NULL OR m.home_store_id = ANY($2::text[]))
      ORDER BY m.id LIMIT ${PAGE}`,
    [after, storeIds === undefined ? null : [...storeIds]],
  );
  return rows;
}

/** Sets (or clears, with null) a member's birthday, "MM-DD", for the birthday segment; audited with actor and reason. */
export async function setBirthday(db: Database, memberId: string, birthMonthDay: string | null, actor: Actor, reason: string): Promise<void> {
  const id = memberIdOf(memberId);
  if (birthMonthDay !== null && !isMonthDay(birthMonthDay)) {
    throw new LedgerError('INVALID_INPUT', 'birthMonthDay must be MM-DD, e.g. 03-15.');
  }
  const who = actorOf(actor);
  const why = textOf(reason, 'reason', 200);
  await db.transaction(async (tx) => {
    const { rows } = await tx.query('UPDATE members SET birth_month_day = $2, updated_at = now() WHERE id = $1 RETURNING id', [id, birthMonthDay]);
    if (rows.length === 0) throw memberNotFound(id);
    await recordCouponAudit(tx, { memberId: id, action: 'birthday_set', actor: who, reason: why, detail: { birthMonthDay } });
  });
}
