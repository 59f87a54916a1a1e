import type { MemberSnapshot } from '../../shared/contract/payloads.ts';
import type { TopUpReceipt } from '../../device/printer/receipt.ts';

/** A member as a kiosk caches it: ¥50 principal, 30 points, version 2. */
export function memberSnapshot(overrides: Partial<MemberSnapshot> = {}): MemberSnapshot {
  return {
    memberId: '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
    displayName: '张三',
    tier: 'standard',
    cardUid: '04A22B1C',
    balances: { principalFen: 5000, bonusFen: 0, points: 30 },
    version: 2,
    asOf: new Date().toISOString(),
    ...overrides,
  };
}

/** A ¥100 top-up receipt with a bonus balance and a fixed time, for layout and transport tests. */
export const topUpReceipt: TopUpReceipt = {
  storeName: '旗舰店 Flagship Store',
  deviceId: 'kiosk-01',
  memberName: '张三',
  cardUidMasked: '****1C2D',
  amountFen: 10000,
  balances: { principalFen: 15000, bonusFen: 2000, points: 350 },
  txId: '0190f3e2-7c1a-7b3e-9a55-3f1f0c2d4e5f',
  seq: 42,
  at: new Date('2025-01-02T17:45:08Z'),
  pendingSync: false,
};
