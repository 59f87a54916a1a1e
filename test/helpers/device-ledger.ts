import type { Database } from '../../cloud/db/database.ts';
import type { DeviceTransaction } from '../../shared/contract/payloads.ts';

/** What a set of device transactions adds up to: the shape both a kiosk outbox and the hub ledger reduce to. */
export interface DeviceTotals {
  count: number;
  sumFen: number;
  /** txId → amount in fen. */
  amounts: Map<string, number>;
}

export function outboxTotals(transactions: DeviceTransaction[]): DeviceTotals {
  const amounts = new Map(transactions.map((tx) => [tx.txId, tx.body.amountFen]));
  return { count: transactions.length, sumFen: transactions.reduce((sum, tx) => sum + tx.body.amountFen, 0), amounts };
}

/**
 * Cash top-ups the hub posted for devices whose id starts with `deviceIdPrefix`, keyed by idempotency key
 * (the device's txId): the principal credited, which is the cash taken (a top-up bonus is a separate posting). `count` counts ledger rows, not keys, so a double posting would show as a mismatch
 * even if the unique index on the key were ever dropped.
 */
export async function ledgerTotals(db: Database, deviceIdPrefix: string): Promise<DeviceTotals> {
  const { rows } = await db.query<{ txId: string; amountFen: number }>(
    `SELECT lt.idempotency_key AS "txId", p.amount::int AS "amountFen"
       FROM ledger_transactions lt JOIN postings p ON p.tx_id = lt.id AND p.amount > 0
       JOIN accounts a ON a.id = p.account_id AND a.kind = 'stored_principal'
      WHERE lt.kind = 'cash_topup' AND starts_with(lt.device_id, $1)`,
    [deviceIdPrefix],
  );
  return {
    count: rows.length,
    sumFen: rows.reduce((sum, row) => sum + row.amountFen, 0),
    amounts: new Map(rows.map((row) => [row.txId, row.amountFen])),
  };
}
