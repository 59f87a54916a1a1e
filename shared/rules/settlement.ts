/**
 * Cross-store settlement (pure). Stored value is one pool owned by the chain (HQ): a store that takes cash for
 * a top-up holds money that belongs to that pool, and a store that hands over goods paid with stored value
 * delivered them on the pool's account. For a period, each store therefore
 *
 *   owes HQ   the cash it took for top-ups, less the cash it handed back on refunds, and
 *   is owed   the stored value spent at it — principal, and bonus too.
 *
 * Bonus (充100送20: the 20) is a chain-wide promotion, so HQ bears it: the store where bonus is spent is
 * reimbursed like principal, and the store that granted it owes nothing for it (it took no cash for it).
 * Direct stores settle the same way, but their amount is an internal transfer, not an invoice.
 *
 * Every amount is integer fen; only sums and differences are taken, so nothing is ever rounded.
 * Sign of `netFen`: positive = the store owes HQ, negative = HQ owes the store.
 */

export type StoreKind = 'direct' | 'franchise';

/**
 * One store's ledger movements in the period, as summed from the postings of transactions that happened there.
 * The "change" fields are net changes of members' balances; the others are gross flows.
 */
export interface StoreFlows {
  /** null: transactions recorded without a store (older rows, system jobs). */
  storeId: string | null;
  storeKind: StoreKind | null;
  /** Cash taken for top-ups. */
  cashInFen: number;
  /** Cash handed back on refunds. */
  cashOutFen: number;
  /** Net change of members' stored principal (top-ups add, spending takes away, refunds undo). */
  principalChangeFen: number;
  /** Net bonus granted with top-ups here (grants less reversed grants). */
  bonusGrantedFen: number;
  /** Net change of members' stored bonus (grants add, spending takes away). */
  bonusChangeFen: number;
}

export interface SettlementLine {
  storeId: string | null;
  storeKind: StoreKind | null;
  /** Direct stores belong to the chain: their balance is an internal transfer. */
  internal: boolean;
  cashInFen: number;
  cashOutFen: number;
  /** Principal spent here: whatever moved principal other than cash (payments, checkouts, fees, less their refunds). */
  principalSpentFen: number;
  /** Bonus spent here, reimbursed by HQ as promotion cost. */
  bonusSpentFen: number;
  netFen: number;
  direction: 'store_owes_hq' | 'hq_owes_store' | 'even';
}

export interface SettlementTotals {
  cashInFen: number;
  cashOutFen: number;
  principalSpentFen: number;
  /** The period's promotion cost borne by HQ. */
  bonusSpentFen: number;
  /** Σ netFen. Always equals principalFloatChangeFen − bonusSpentFen. */
  netFen: number;
  /** How much more stored principal members hold at the end of the period (cash HQ holds for them). */
  principalFloatChangeFen: number;
  /** Franchise stores: what they owe HQ in total, and what HQ owes them in total (both ≥ 0). */
  franchiseOwesHqFen: number;
  hqOwesFranchiseFen: number;
}

export interface Settlement {
  lines: SettlementLine[];
  totals: SettlementTotals;
}

function assertFen(value: number, field: string, storeId: string | null): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${field} of store ${storeId ?? '(none)'} is not a whole number of fen: ${value}`);
}

export function settleStore(flows: StoreFlows): SettlementLine {
  for (const field of ['cashInFen', 'cashOutFen', 'principalChangeFen', 'bonusGrantedFen', 'bonusChangeFen'] as const) {
    assertFen(flows[field], field, flows.storeId);
  }
  const cashNet = flows.cashInFen - flows.cashOutFen;
  // Cash is the only thing besides spending that moves principal, so what cash does not explain was spent.
  const principalSpentFen = cashNet - flows.principalChangeFen;
  // Likewise grants are the only thing besides spending that moves bonus.
  const bonusSpentFen = flows.bonusGrantedFen - flows.bonusChangeFen;
  const netFen = cashNet - principalSpentFen - bonusSpentFen;
  return {
    storeId: flows.storeId,
    storeKind: flows.storeKind,
    internal: flows.storeKind === 'direct',
    cashInFen: flows.cashInFen,
    cashOutFen: flows.cashOutFen,
    principalSpentFen,
    bonusSpentFen,
    netFen,
    direction: netFen > 0 ? 'store_owes_hq' : netFen < 0 ? 'hq_owes_store' : 'even',
  };
}

/** Settlement of every store's flows; lines keep the given order. */
export function settle(stores: readonly StoreFlows[]): Settlement {
  const lines = stores.map(settleStore);
  const sum = (pick: (line: SettlementLine) => number, of: readonly SettlementLine[] = lines) => of.reduce((total, line) => total + pick(line), 0);
  const franchise = lines.filter((line) => line.storeKind === 'franchise');
  return {
    lines,
    totals: {
      cashInFen: sum((l) => l.cashInFen),
      cashOutFen: sum((l) => l.cashOutFen),
      principalSpentFen: sum((l) => l.principalSpentFen),
      bonusSpentFen: sum((l) => l.bonusSpentFen),
      netFen: sum((l) => l.netFen),
      principalFloatChangeFen: stores.reduce((total, s) => total + s.principalChangeFen, 0),
      franchiseOwesHqFen: sum((l) => Math.max(l.netFen, 0), franchise),
      hqOwesFranchiseFen: sum((l) => Math.max(-l.netFen, 0), franchise),
    },
  };
}
