import { settle, type Settlement, type StoreFlows, type StoreKind } from '../../shared/rules/settlement.ts';
import type { Queryable } from '../db/database.ts';
import { LedgerError } from '../ledger/errors.ts';
import type { OperatorScope } from '../kernel/principal.ts';
import { listStores, storesInScopeSql } from './structure.ts';

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
  if (!(period.from.getTime() < period.to.getTime())) throw new LedgerError('INVALID_INPUT', '"from" must be before "to".');
  const inScope = storesInScopeSql(scope, 3);
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
       LEFT JOIN stores s ON s.id = t.store_id
      WHERE t.created_at >= $1 AND t.created_at < $2
        AND ${scope.level === 'hq' ? 'true' : `t.store_id IS NOT NULL AND ${inScope.sql}`}
      GROUP BY t.store_id`,
    [period.from.toISOString(), period.to.toISOString(), ...inScope.params],
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
  const lines = (await listStores(q, scope)).map((store) => flows(store.storeId, store.kind));
  if (byStore.has(null)) lines.push(flows(null, null));
  return { from: period.from.toISOString(), to: period.to.toISOString(), ...settle(lines) };
}
