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
  const select = () =>
    tx.query<{ id: string }>('SELECT id FROM accounts WHERE system_code = $1', [account.code]).then((r) => r.rows[0]?.id);
  const existing = await select();
  if (existing) return existing;
  await tx.query(
    'INSERT INTO accounts (id, kind, asset, system_code) VALUES ($1, $2, $3, $4) ON CONFLICT (system_code) DO NOTHING',
    [newId(), account.kind, account.asset, account.code],
  );
  const created = await select();
  if (!created) throw new Error(`system account ${account.code} could not be created`);
  return created;
}
