import { newId, isUuid } from '../../shared/ids.ts';
import { couponTemplateProblems, describeOffer, type CouponTemplate } from '../../shared/rules/coupons.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { Actor } from '../kernel/actor.ts';
import type { HubError } from '../kernel/errors.ts';
import { actorOf, invalid, textOf } from '../kernel/input.ts';
import { recordCouponAudit } from './audit.ts';
import { couponErrors } from './errors.ts';

/** Coupon templates: what operators define and members are issued coupons from. */

export interface CouponTemplateView extends CouponTemplate {
  templateId: string;
  /** "满100减20" / "¥20 off on ¥100 or more", derived from the offer. */
  label: { zh: string; en: string };
  active: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

interface TemplateRow {
  id: string;
  definition: CouponTemplate;
  active: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const toView = (row: TemplateRow): CouponTemplateView => ({
  templateId: row.id,
  ...row.definition,
  label: describeOffer(row.definition),
  active: row.active,
  version: row.version,
  createdAt: new Date(row.created_at).toISOString(),
  updatedAt: new Date(row.updated_at).toISOString(),
});

/** Only the fields of the pure template go into storage (a REST body may carry more, e.g. the reason). */
function definitionOf(input: CouponTemplate): CouponTemplate {
  const definition: CouponTemplate = {
    nameZh: input.nameZh?.trim(),
    nameEn: input.nameEn?.trim(),
    offer: input.offer,
    conditions: input.conditions ?? {},
    ...(input.pointsCost === undefined ? {} : { pointsCost: input.pointsCost }),
  };
  const problems = couponTemplateProblems(definition);
  if (problems.length > 0) throw invalid(`优惠券模板无效：${problems.join('；')}`, `The coupon template is invalid: ${problems.join('; ')}`);
  return definition;
}

export function templateNotFound(templateId: unknown): HubError {
  return couponErrors.COUPON_NOT_FOUND({ zh: `没有编号为 ${String(templateId)} 的优惠券模板`, en: `No coupon template has the id ${String(templateId)}` });
}

export async function getTemplate(q: Queryable, templateId: unknown): Promise<CouponTemplateView> {
  if (!isUuid(templateId)) throw templateNotFound(templateId);
  const { rows } = await q.query<TemplateRow>('SELECT * FROM coupon_templates WHERE id = $1', [templateId]);
  if (!rows[0]) throw templateNotFound(templateId);
  return toView(rows[0]);
}

export async function listTemplates(q: Queryable): Promise<CouponTemplateView[]> {
  const { rows } = await q.query<TemplateRow>('SELECT * FROM coupon_templates ORDER BY created_at DESC, id');
  return rows.map(toView);
}

export async function createTemplate(db: Database, input: CouponTemplate, actor: Actor, reason: string): Promise<CouponTemplateView> {
  const definition = definitionOf(input);
  const who = actorOf(actor);
  const why = textOf(reason, 'reason', 200);
  const id = newId();
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<TemplateRow>('INSERT INTO coupon_templates (id, definition) VALUES ($1, $2::jsonb) RETURNING *', [
      id,
      JSON.stringify(definition),
    ]);
    await recordCouponAudit(tx, { templateId: id, action: 'template_created', actor: who, reason: why, detail: definition });
    return toView(rows[0]!);
  });
}

/**
 * Replaces a template's definition and/or stops (or resumes) issuing it. Coupons already issued keep the
 * terms they were issued with.
 */
export async function updateTemplate(
  db: Database,
  templateId: unknown,
  change: { definition?: CouponTemplate; active?: boolean },
  actor: Actor,
  reason: string,
): Promise<CouponTemplateView> {
  const definition = change.definition === undefined ? undefined : definitionOf(change.definition);
  if (definition === undefined && change.active === undefined) throw invalid('没有要更改的内容：请给出新的定义（definition）或是否发放（active）', 'Nothing to change: give a new definition or active');
  const who = actorOf(actor);
  const why = textOf(reason, 'reason', 200);
  if (!isUuid(templateId)) throw templateNotFound(templateId);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<TemplateRow>(
      `UPDATE coupon_templates
          SET definition = coalesce($2::jsonb, definition), active = coalesce($3, active), version = version + 1, updated_at = now()
        WHERE id = $1 RETURNING *`,
      [templateId, definition === undefined ? null : JSON.stringify(definition), change.active ?? null],
    );
    if (!rows[0]) throw templateNotFound(templateId);
    await recordCouponAudit(tx, {
      templateId,
      action: 'template_updated',
      actor: who,
      reason: why,
      detail: { version: rows[0].version, ...(definition ? { definition } : {}), ...(change.active === undefined ? {} : { active: change.active }) },
    });
    return toView(rows[0]);
  });
}
