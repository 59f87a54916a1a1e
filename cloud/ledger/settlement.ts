import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { settle, type Settlement, type StoreFlows, type StoreKind } from '../../shared/rules/settlement.ts';
import type { Queryable } from '../db/database.ts';
import { kernelErrors } from '../kernel/errors.ts';
import { orgCode } from '../org/index.ts';
import { operatorOf, scope } from '../kernel/access.ts';
import { invalid } from '../kernel/input.ts';
import type { OperatorScope } from '../kernel/principal.ts';
import { STORE_KINDS, listStores } from '../org/index.ts';

export interface SettlementPeriod {
  /** Inclusive start instant. */
  from: Date;
  /** Exclusive end instant. */
  to: Date;
}

export interface SettlementReport extends Settlement {
  from: string;
  to: string;
}

interface FlowRow {
  store_id: string | null;
  cash_in: number;
  cash_out: number;
  principal_change: number;
  bonus_granted: number;
  bonus_change: number;
}

/**
 * The period's settlement for every store in `scope` (shared/rules/settlement.ts says what it means). A store
 * with no activity gets a zero line; transactions without a store get a line of their own, for HQ only, so
 * that HQ's totals cover the whole ledger. Sums are over postings of transactions created in [from, to).
 */
export async function settlementReport(q: Queryable, scope: OperatorScope, period: SettlementPeriod): Promise<SettlementReport> {
  if (!(period.from.getTime() < period.to.getTime())) throw invalid('“from” 须早于 “to”', '"from" must be before "to"');
  const stores = await listStores(q, scope);
  // sum(bigint) is numeric: cast back so both backends return exact int8.
  const { rows } = await q.query<FlowRow>(
    `SELECT t.store_id,
            coalesce(sum(-p.amount) FILTER (WHERE a.kind = 'cash_received' AND p.amount < 0), 0)::bigint AS cash_in,
            coalesce(sum(p.amount) FILTER (WHERE a.kind = 'cash_received' AND p.amount > 0), 0)::bigint AS cash_out,
            coalesce(sum(p.amount) FILTER (WHERE a.kind = 'stored_principal'), 0)::bigint AS principal_change,
            coalesce(sum(-p.amount) FILTER (WHERE a.kind = 'bonus_issued'), 0)::bigint AS bonus_granted,
            coalesce(sum(p.amount) FILTER (WHERE a.kind = 'stored_bonus'), 0)::bigint AS bonus_change
       FROM ledger_transactions t
       JOIN postings p ON p.tx_id = t.id
       JOIN accounts a ON a.id = p.account_id
      WHERE t.created_at >= $1 AND t.created_at < $2
        AND ($3::text[] IS NULL OR t.store_id = ANY($3::text[]))
      GROUP BY t.store_id`,
    [period.from.toISOString(), period.to.toISOString(), scope.level === 'hq' ? null : stores.map((store) => store.storeId)],
  );
  const byStore = new Map(rows.map((row) => [row.store_id, row]));
  const flows = (storeId: string | null, storeKind: StoreKind | null): StoreFlows => {
    const row = byStore.get(storeId);
    return {
      storeId,
      storeKind,
      cashInFen: Number(row?.cash_in ?? 0),
      cashOutFen: Number(row?.cash_out ?? 0),
      principalChangeFen: Number(row?.principal_change ?? 0),
      bonusGrantedFen: Number(row?.bonus_granted ?? 0),
      bonusChangeFen: Number(row?.bonus_change ?? 0),
    };
  };
  const lines = stores.map((store) => flows(store.storeId, store.kind));
  if (byStore.has(null)) lines.push(flows(null, null));
  return { from: period.from.toISOString(), to: period.to.toISOString(), ...settle(lines) };
}

const strict = { additionalProperties: false } as const;
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((value) => Type.Literal(value)));

export const SettlementQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'Start instant, inclusive, e.g. 2026-11-01T00:00:00+08:00' }),
    to: Type.String({ format: 'date-time', description: 'End instant, exclusive' }),
  },
  strict,
);
export type SettlementQuery = Static<typeof SettlementQuery>;

const Fen = (description: string) => Type.Integer({ description });
export const SettlementReport = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    lines: Type.Array(
      Type.Object(
        {
          storeId: Type.Union([orgCode('Store code, e.g. sh-xuhui'), Type.Null()], { description: 'null: transactions recorded without a store' }),
          storeKind: Type.Union([literals(STORE_KINDS), Type.Null()]),
          internal: Type.Boolean({ description: 'Direct store: an internal transfer, not an invoice' }),
          cashInFen: Fen('Cash taken for top-ups'),
          cashOutFen: Fen('Cash handed back on refunds'),
          principalSpentFen: Fen('Stored principal spent here (net of refunds)'),
          bonusSpentFen: Fen('Bonus spent here: promotion cost, reimbursed by HQ'),
          netFen: Fen('Positive: the store owes HQ; negative: HQ owes the store'),
          direction: literals(['store_owes_hq', 'hq_owes_store', 'even'] as const),
        },
        strict,
      ),
    ),
    totals: Type.Object(
      {
        cashInFen: Type.Integer(),
        cashOutFen: Type.Integer(),
        principalSpentFen: Type.Integer(),
        bonusSpentFen: Fen("The period's promotion cost, borne by HQ"),
        netFen: Fen('Sum of the lines; equals principalFloatChangeFen − bonusSpentFen'),
        principalFloatChangeFen: Fen('Growth of the stored principal members hold'),
        franchiseOwesHqFen: Type.Integer({ minimum: 0 }),
        hqOwesFranchiseFen: Type.Integer({ minimum: 0 }),
      },
      strict,
    ),
  },
  { ...strict, description: 'Per-store settlement for the period; amounts in fen' },
);

/** GET /settlement: headquarters and region admins and managers, for the stores in their scope. */
export function registerSettlementRoute(api: FastifyInstance, q: Queryable): void {
  api.get<{ Querystring: SettlementQuery }>(
    '/settlement',
    {
      config: {
        access: { roles: ['admin', 'manager'], levels: ['hq', 'region'], scope: scope.none('answers only what lies inside the caller’s own scope') },
        errors: [kernelErrors.INVALID_INPUT],
      },
      schema: {
        summary: 'Cross-store settlement for a period: what each store owes HQ or is owed (HQ or region admin or manager)',
        tags: ['org'],
        querystring: SettlementQuery,
        response: { 200: SettlementReport },
      },
    },
    async (request) => settlementReport(q, operatorOf(request).scope, { from: new Date(request.query.from), to: new Date(request.query.to) }),
  );
}
