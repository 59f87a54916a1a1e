import { inSegment, segmentProblems, type CouponSegment } from '../../shared/rules/coupons.ts';
import { lastPurchases } from '../checkout/index.ts';
import { getTemplate, issueCoupon } from '../coupons/index.ts';
import type { Database } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import { actorOf, invalid, textOf } from '../kernel/input.ts';
import { membersPage, type Ledger } from '../ledger/index.ts';

/** Where a long run reports its progress (pino, or a request's logger). */
export interface ProgressLog {
  info(fields: object, message: string): void;
}

/**
 * Targeted issue: one coupon to every member of a segment (lapsed customers, birthday month), judged by the pure
 * rule (shared/rules/coupons.ts) over facts read page by page from the modules that own them: the members from
 * the ledger, their last purchase from the checkout.
 */

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

export async function issueToSegment(db: Database, ledger: Ledger, input: TargetedIssueInput): Promise<TargetedIssueResult> {
  const problems = segmentProblems(input.segment);
  if (problems.length > 0) throw invalid(`人群条件无效：${problems.join('；')}`, `The segment is invalid: ${problems.join('; ')}`);
  const campaignKey = textOf(input.campaignKey, 'campaignKey', 100);
  const actor = actorOf(input.actor);
  const reason = textOf(input.reason, 'reason', 200);
  const template = await getTemplate(db, input.templateId);
  if ((template.pointsCost ?? 0) > 0) {
    throw invalid('积分兑换券须由会员自己兑换，不能定向发放', 'A points-exchange coupon is bought by the member; it cannot be issued to a segment');
  }
  const at = input.at ?? new Date();
  const result: TargetedIssueResult = { matched: 0, issued: 0, alreadyIssued: 0 };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await membersPage(db, { after, limit: PAGE, ...(input.storeIds === undefined ? {} : { storeIds: input.storeIds }) });
    const purchases = await lastPurchases(db, page.map((member) => member.memberId));
    for (const member of page) {
      const facts = { lastPurchaseAt: purchases.get(member.memberId) ?? null, birthMonthDay: member.birthMonthDay };
      if (!inSegment(input.segment, facts, at)) continue;
      result.matched += 1;
      const { created } = await issueCoupon(db, ledger, {
        templateId: template.templateId,
        memberId: member.memberId,
        issueKey: `campaign:${campaignKey}:${member.memberId}`,
        actor,
        reason,
        at,
      });
      if (created) result.issued += 1;
      else result.alreadyIssued += 1;
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.memberId;
    input.logger?.info({ templateId: template.templateId, campaignKey, ...result }, 'targeted coupon issue in progress');
  }
  input.logger?.info({ templateId: template.templateId, campaignKey, ...result }, 'targeted coupon issue done');
  return result;
}
