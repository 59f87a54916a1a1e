/**
 * Points budgets on the hub (rules in shared/rules/budget.ts): how many points a member or a store may still
 * earn or spend this period, the atomic consumption of that allowance, and the alerts raised as it fills.
 *
 * Use from an award (checkout, check-in) in two steps, both inside the posting's database transaction:
 *   legs: async (_balances, tx) => { const n = await budgetAllowance(tx, rules, use); … legs for n points … }
 *   effects: (tx, txId) => consumeBudget(tx, rules, { ...use, points: n }, txId)
 * The allowance caps the award; consumeBudget re-checks with a guarded upsert (used + n ≤ limit in the same
 * statement), so two concurrent awards at one store can never overshoot a cap: the loser gets BUDGET_EXCEEDED,
 * its transaction rolls back and it may retry (it will then be capped to what is left).
 * A redemption (direction 'spend') is all-or-nothing: refuse it when the allowance is below the points spent.
 *
 * Refunds: consumeBudget records what the ledger transaction took from each counter (points_budget_consumptions,
 * migration 012). Refunding that transaction gives it back — to the same counters in the periods it counted in,
 * exactly once, in the refund's database transaction — by a trigger on ledger_refunds, so every refund path
 * (checkout, the ledger's refund route for a points-exchange coupon) releases without having to remember to.
 * Check-in and referral awards ('points_award') cannot be refunded, so their usage is never released. Alerts
 * already raised stay (each level fires once per period, so refilling a released budget does not raise it again).
 */
import { alertsCrossed, allowance, capsFor, periodOf, type BudgetCap, type BudgetDirection, type BudgetRules, type BudgetScope } from '../../shared/rules/budget.ts';
import { instantOf } from '../../shared/rules/window.ts';
import type { Queryable } from '../db/database.ts';
import type { HubError } from '../kernel/errors.ts';
import { ledgerErrors } from '../ledger/index.ts';
import { programErrors } from './errors.ts';
import type { OperatorScope } from '../kernel/principal.ts';
import { listStores } from '../org/index.ts';

export interface BudgetUse {
  readonly memberId: string;
  /** The store where it happens; without one only member caps apply. */
  readonly storeId?: string | null;
  readonly direction: BudgetDirection;
  /** Points asked for (whole, ≥ 0). */
  readonly points: number;
  readonly at: Date;
}

interface Counter {
  readonly cap: BudgetCap;
  readonly subjectId: string;
  readonly periodKey: string;
}

/** The counters a use touches, member caps before store caps (a fixed lock order: no deadlock between two uses). */
function countersOf(rules: BudgetRules, use: BudgetUse): Counter[] {
  instantOf(use.at);
  const subjects: Array<[BudgetScope, string | null | undefined]> = [['member', use.memberId], ['store', use.storeId]];
  return subjects.flatMap(([scope, subjectId]) =>
    subjectId ? capsFor(rules, scope, use.direction).map((cap) => ({ cap, subjectId, periodKey: periodOf(cap.period, use.at, rules.timeZone).key })) : [],
  );
}

const KEY_COLUMNS = 'scope = $1 AND subject_id = $2 AND direction = $3 AND period = $4 AND period_key = $5';
const keyOf = (c: Counter) => [c.cap.scope, c.subjectId, c.cap.direction, c.cap.period, c.periodKey];

export interface Allowance {
  /** Points allowed now: the request cut down by the tightest cap. */
  readonly allowedPoints: number;
  /** The cap that cut the request, or null when it fits entirely. */
  readonly limitedBy: (BudgetCap & { readonly subjectId: string; readonly periodKey: string; readonly used: number }) | null;
}

/** How many of `use.points` the caps allow now (reads only). */
export async function budgetAllowance(q: Queryable, rules: BudgetRules, use: BudgetUse): Promise<Allowance> {
  let result: Allowance = { allowedPoints: use.points, limitedBy: null };
  for (const counter of countersOf(rules, use)) {
    const { rows } = await q.query<{ used: string | number }>(`SELECT used FROM points_budget_usage WHERE ${KEY_COLUMNS}`, keyOf(counter));
    const used = Number(rows[0]?.used ?? 0);
    const allowed = allowance(counter.cap.limitPoints, used, use.points);
    if (allowed < result.allowedPoints) {
      result = { allowedPoints: allowed, limitedBy: { ...counter.cap, subjectId: counter.subjectId, periodKey: counter.periodKey, used } };
    }
  }
  return result;
}

export interface BudgetAlert {
  id: number;
  scope: BudgetScope;
  subjectId: string;
  storeId: string | null;
  direction: BudgetDirection;
  period: BudgetCap['period'];
  periodKey: string;
  thresholdPercent: number;
  used: number;
  limitPoints: number;
  txId: string | null;
  createdAt: string;
}

export function budgetExceeded(counter: Counter): HubError {
  const who = counter.cap.scope === 'member' ? '会员' : `门店 ${counter.subjectId}`;
  return programErrors.BUDGET_EXCEEDED({
    zh: `积分额度不足（${who}，${counter.periodKey}），未作任何更改`,
    en:
      `The points budget (${counter.cap.scope} ${counter.cap.scope === 'member' ? '' : `${counter.subjectId} `}${counter.cap.direction}, ` +
      `${counter.cap.period} ${counter.periodKey}, limit ${counter.cap.limitPoints}) does not allow this; nothing was changed`,
  });
}

/**
 * Takes `use.points` from every applicable cap atomically; BUDGET_EXCEEDED (the caller's transaction must roll
 * back) when any cap would go over. Returns the alerts this use raised (each level once per period).
 * With a `txId` the use is recorded against it, so a refund of that transaction releases it; without one
 * (nothing posted) there is nothing a refund could undo.
 */
export async function consumeBudget(tx: Queryable, rules: BudgetRules, use: BudgetUse, txId: string | null): Promise<BudgetAlert[]> {
  if (!Number.isSafeInteger(use.points) || use.points < 0) {
    throw ledgerErrors.INVALID_AMOUNT({ zh: `积分须为 ≥ 0 的整数：${String(use.points)}`, en: `Points must be a whole number ≥ 0: ${String(use.points)}` });
  }
  if (use.points === 0) return [];
  const raised: BudgetAlert[] = [];
  for (const counter of countersOf(rules, use)) {
    const limit = counter.cap.limitPoints;
    if (use.points > limit) throw budgetExceeded(counter);
    const { rows } = await tx.query<{ used: string | number }>(
      `INSERT INTO points_budget_usage (scope, subject_id, direction, period, period_key, used) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (scope, subject_id, direction, period, period_key)
       DO UPDATE SET used = points_budget_usage.used + EXCLUDED.used WHERE points_budget_usage.used + EXCLUDED.used <= $7
       RETURNING used`,
      [...keyOf(counter), use.points, limit],
    );
    if (!rows[0]) throw budgetExceeded(counter);
    if (txId !== null) {
      await tx.query(
        `INSERT INTO points_budget_consumptions (scope, subject_id, direction, period, period_key, points, tx_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tx_id, scope, direction, period) DO UPDATE SET points = points_budget_consumptions.points + EXCLUDED.points`,
        [...keyOf(counter), use.points, txId],
      );
    }
    const used = Number(rows[0].used);
    for (const percent of alertsCrossed(limit, used - use.points, used, rules.alertPercents)) {
      const inserted = await tx.query<AlertRow>(
        `INSERT INTO points_budget_alerts
           (scope, subject_id, store_id, direction, period, period_key, threshold_percent, used, limit_points, tx_id)
         VALUES ($1, $2, $6, $3, $4, $5, $7, $8, $9, $10)
         ON CONFLICT (scope, subject_id, direction, period, period_key, threshold_percent) DO NOTHING RETURNING *`,
        [...keyOf(counter), use.storeId ?? null, percent, used, limit, txId],
      );
      if (inserted.rows[0]) raised.push(toAlert(inserted.rows[0]));
    }
  }
  return raised;
}

interface AlertRow {
  id: string | number;
  scope: BudgetScope;
  subject_id: string;
  store_id: string | null;
  direction: BudgetDirection;
  period: BudgetCap['period'];
  period_key: string;
  threshold_percent: number;
  used: string | number;
  limit_points: string | number;
  tx_id: string | null;
  created_at: Date | string;
}

const toAlert = (row: AlertRow): BudgetAlert => ({
  id: Number(row.id),
  scope: row.scope,
  subjectId: row.subject_id,
  storeId: row.store_id,
  direction: row.direction,
  period: row.period,
  periodKey: row.period_key,
  thresholdPercent: row.threshold_percent,
  used: Number(row.used),
  limitPoints: Number(row.limit_points),
  txId: row.tx_id,
  createdAt: new Date(row.created_at).toISOString(),
});

/**
 * Recent alerts an operator may see, newest first: HQ all of them; a region those raised at its stores; a
 * store its own. Alerts raised without a store (a member earning outside any store) are HQ's only.
 */
export async function listBudgetAlerts(q: Queryable, scope: OperatorScope, limit = 100): Promise<BudgetAlert[]> {
  const storeIds = scope.level === 'hq' ? null : (await listStores(q, scope)).map((store) => store.storeId);
  const { rows } = await q.query<AlertRow>(
    `SELECT * FROM points_budget_alerts WHERE $2::text[] IS NULL OR store_id = ANY($2::text[]) ORDER BY created_at DESC, id DESC LIMIT $1`,
    [limit, storeIds],
  );
  return rows.map(toAlert);
}
