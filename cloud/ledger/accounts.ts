import { newId } from '../../shared/ids.ts';
import type { Queryable } from '../db/database.ts';
import type { Asset } from './types.ts';

/** Every member owns exactly these three accounts, created with the member. */
export const MEMBER_ACCOUNTS = {
  stored_principal: 'CNY',
  stored_bonus: 'CNY',
  points: 'POINTS',
} as const satisfies Record<string, Asset>;
export type MemberAccountKind = keyof typeof MEMBER_ACCOUNTS;

export type SystemAccountKind =
  | 'cash_received'
  | 'stored_value_spent'
  | 'points_issued'
  | 'points_redeemed'
  /** Contra of stored-value bonus (充100送20: the 20). */
  | 'bonus_issued'
  | 'points_expired'
  /** Card fees (joining, annual, replacement) paid from stored value. */
  | 'fees_received';

/** A contra account of the chain, named by a stable code; created the first time it is used. */
export interface SystemAccount {
  kind: SystemAccountKind;
  asset: Asset;
  code: string;
}

export const systemAccounts = {
  /** Cash in a kiosk's box, or taken at a counter when no device recorded it. */
  cashReceived: (deviceId?: string): SystemAccount => ({
    kind: 'cash_received',
    asset: 'CNY',
    code: deviceId ? `cash_received:device:${deviceId}` : 'cash_received:counter',
  }),
  storedValueSpent: (): SystemAccount => ({ kind: 'stored_value_spent', asset: 'CNY', code: 'stored_value_spent' }),
  pointsIssued: (): SystemAccount => ({ kind: 'points_issued', asset: 'POINTS', code: 'points_issued' }),
  pointsRedeemed: (): SystemAccount => ({ kind: 'points_redeemed', asset: 'POINTS', code: 'points_redeemed' }),
  bonusIssued: (): SystemAccount => ({ kind: 'bonus_issued', asset: 'CNY', code: 'bonus_issued' }),
  pointsExpired: (): SystemAccount => ({ kind: 'points_expired', asset: 'POINTS', code: 'points_expired' }),
  feesReceived: (): SystemAccount => ({ kind: 'fees_received', asset: 'CNY', code: 'fees_received' }),
};

export async function createMemberAccounts(tx: Queryable, memberId: string): Promise<void> {
  for (const [kind, asset] of Object.entries(MEMBER_ACCOUNTS)) {
    await tx.query('INSERT INTO accounts (id, kind, asset, member_id, balance) VALUES ($1, $2, $3, $4, 0)', [
      newId(),
      kind,
      asset,
      memberId,
    ]);
  }
}

export async function memberAccountIds(tx: Queryable, memberId: string): Promise<Record<MemberAccountKind, string>> {
  const { rows } = await tx.query<{ id: string; kind: MemberAccountKind }>(
    'SELECT id, kind FROM accounts WHERE member_id = $1',
    [memberId],
  );
  return Object.fromEntries(rows.map((row) => [row.kind, row.id])) as Record<MemberAccountKind, string>;
}

/**
 * The id of a system account, creating it on first use. Plain INSERT … DO NOTHING then SELECT (not an
 * upsert that returns the row) so a busy contra account is never row-locked by the transactions using it.
 */
export async function systemAccountId(tx: Queryable, account: SystemAccount): Promise<string> {
  return (await systemAccountIds(tx, [account])).get(account.code)!;
}

/** systemAccountId for several accounts, by code: one statement when they all exist already. */
export async function systemAccountIds(tx: Queryable, accounts: readonly SystemAccount[]): Promise<Map<string, string>> {
  const select = async (codes: string[]) => {
    const { rows } = await tx.query<{ id: string; system_code: string }>('SELECT id, system_code FROM accounts WHERE system_code = ANY($1::text[])', [codes]);
    return rows.map((row) => [row.system_code, row.id] as const);
  };
  const wanted = new Map(accounts.map((account) => [account.code, account]));
  const ids = new Map(await select([...wanted.keys()]));
  const missing = [...wanted.values()].filter((account) => !ids.has(account.code)).sort((a, b) => (a.code < b.code ? -1 : 1));
  if (missing.length === 0) return ids;
  await tx.query(
    `INSERT INTO accounts (id, kind, asset, system_code) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (system_code) DO NOTHING`,
    [missing.map(() => newId()), missing.map((a) => a.kind), missing.map((a) => a.asset), missing.map((a) => a.code)],
  );
  for (const [code, id] of await select(missing.map((a) => a.code))) ids.set(code, id);
  for (const account of missing) if (!ids.has(account.code)) throw new Error(`system account ${account.code} could not be created`);
  return ids;
}
