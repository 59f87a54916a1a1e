import type { MemberSnapshot } from '../../shared/contract/payloads.ts';

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
