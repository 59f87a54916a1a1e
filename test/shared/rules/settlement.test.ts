import { describe, expect, it } from 'vitest';
import { settle, settleStore, type StoreFlows } from '../../../shared/rules/settlement.ts';

const flows = (storeId: string | null, kind: StoreFlows['storeKind'], f: Partial<StoreFlows> = {}): StoreFlows => ({
  storeId,
  storeKind: kind,
  cashInFen: 0,
  cashOutFen: 0,
  principalChangeFen: 0,
  bonusGrantedFen: 0,
  bonusChangeFen: 0,
  ...f,
});

describe('settlement of one store (net > 0: the store owes HQ)', () => {
  it.each([
    ['nothing happened', {}, { principalSpentFen: 0, bonusSpentFen: 0, netFen: 0, direction: 'even' }],
    ['¥100 cash top-up', { cashInFen: 10_000, principalChangeFen: 10_000 }, { principalSpentFen: 0, bonusSpentFen: 0, netFen: 10_000, direction: 'store_owes_hq' }],
    ['¥100 spent from principal', { principalChangeFen: -10_000 }, { principalSpentFen: 10_000, bonusSpentFen: 0, netFen: -10_000, direction: 'hq_owes_store' }],
    [
      '充100送20: top-up with bonus — the granting store owes only the cash',
      { cashInFen: 10_000, principalChangeFen: 10_000, bonusGrantedFen: 2_000, bonusChangeFen: 2_000 },
      { principalSpentFen: 0, bonusSpentFen: 0, netFen: 10_000, direction: 'store_owes_hq' },
    ],
    [
      '¥30 spent as ¥20 bonus + ¥10 principal: HQ reimburses both',
      { principalChangeFen: -1_000, bonusChangeFen: -2_000 },
      { principalSpentFen: 1_000, bonusSpentFen: 2_000, netFen: -3_000, direction: 'hq_owes_store' },
    ],
    [
      'top-up then refunded in cash at the same store: even',
      { cashInFen: 10_000, cashOutFen: 10_000 },
      { principalSpentFen: 0, bonusSpentFen: 0, netFen: 0, direction: 'even' },
    ],
    [
      'payment refunded to stored value at the same store: even',
      { principalChangeFen: 0 },
      { principalSpentFen: 0, bonusSpentFen: 0, netFen: 0, direction: 'even' },
    ],
    [
      'refund of a top-up whose ¥20 bonus was spent: ¥80 cash back, ¥100 principal and ¥20 grant reversed',
      { cashOutFen: 8_000, principalChangeFen: -10_000, bonusGrantedFen: -2_000, bonusChangeFen: 0 },
      // The ¥20 principal kept pays for the spent bonus: it counts as principal spent; the reversed grant as bonus given back.
      { principalSpentFen: 2_000, bonusSpentFen: -2_000, netFen: -8_000, direction: 'hq_owes_store' },
    ],
    ['1 fen', { cashInFen: 1, principalChangeFen: 1 }, { principalSpentFen: 0, bonusSpentFen: 0, netFen: 1, direction: 'store_owes_hq' }],
  ] as Array<[string, Partial<StoreFlows>, object]>)('%s', (_label, f, expected) => {
    expect(settleStore(flows('s', 'franchise', f))).toMatchObject({ ...expected, cashInFen: f.cashInFen ?? 0, cashOutFen: f.cashOutFen ?? 0 });
  });

  it('marks direct stores internal and franchise stores not', () => {
    expect(settleStore(flows('d', 'direct')).internal).toBe(true);
    expect(settleStore(flows('f', 'franchise')).internal).toBe(false);
    expect(settleStore(flows(null, null)).internal).toBe(false);
  });

  it.each([['cashInFen', 1.5], ['principalChangeFen', Number.NaN], ['bonusChangeFen', 2 ** 53]] as const)('refuses %s = %s (not whole fen)', (field, value) => {
    expect(() => settleStore(flows('s', 'direct', { [field]: value }))).toThrow(RangeError);
  });
});

describe('settlement across stores', () => {
  it('acceptance: ¥100 topped up at A and spent at B — A owes ¥100, B is owed ¥100, totals net to zero', () => {
    const { lines, totals } = settle([
      flows('a', 'franchise', { cashInFen: 10_000, principalChangeFen: 10_000 }),
      flows('b', 'franchise', { principalChangeFen: -10_000 }),
    ]);
    expect(lines.map((l) => [l.storeId, l.netFen, l.direction])).toEqual([
      ['a', 10_000, 'store_owes_hq'],
      ['b', -10_000, 'hq_owes_store'],
    ]);
    expect(totals).toEqual({
      cashInFen: 10_000,
      cashOutFen: 0,
      principalSpentFen: 10_000,
      bonusSpentFen: 0,
      netFen: 0,
      principalFloatChangeFen: 0,
      franchiseOwesHqFen: 10_000,
      hqOwesFranchiseFen: 10_000,
    });
  });

  it('HQ bears the bonus: its cost is the gap between what stores owe and what they are owed', () => {
    // 充100送20 at A (franchise); the member spends all ¥120 at B (direct).
    const { lines, totals } = settle([
      flows('a', 'franchise', { cashInFen: 10_000, principalChangeFen: 10_000, bonusGrantedFen: 2_000, bonusChangeFen: 2_000 }),
      flows('b', 'direct', { principalChangeFen: -10_000, bonusChangeFen: -2_000 }),
    ]);
    expect(lines.map((l) => [l.storeId, l.netFen, l.internal])).toEqual([
      ['a', 10_000, false],
      ['b', -12_000, true],
    ]);
    expect(totals).toMatchObject({ netFen: -2_000, bonusSpentFen: 2_000, principalFloatChangeFen: 0, franchiseOwesHqFen: 10_000, hqOwesFranchiseFen: 0 });
  });

  it('money still held for members shows as float: Σ net = float change − bonus spent', () => {
    const stores = [
      flows('a', 'franchise', { cashInFen: 30_000, principalChangeFen: 30_000, bonusGrantedFen: 5_000, bonusChangeFen: 5_000 }),
      flows('b', 'franchise', { principalChangeFen: -12_345, bonusChangeFen: -4_000 }),
      flows('c', 'direct', { cashInFen: 1_000, cashOutFen: 1_000, principalChangeFen: -1 }),
      flows(null, null, { cashInFen: 500, principalChangeFen: 500 }),
    ];
    const { totals } = settle(stores);
    expect(totals.principalFloatChangeFen).toBe(30_000 - 12_345 - 1 + 500);
    expect(totals.netFen).toBe(totals.principalFloatChangeFen - totals.bonusSpentFen);
    expect(totals.bonusSpentFen).toBe(4_000);
    expect(totals.franchiseOwesHqFen - totals.hqOwesFranchiseFen).toBe(30_000 - 16_345);
  });

  it('an empty chain settles to zeros', () => {
    expect(settle([])).toEqual({
      lines: [],
      totals: {
        cashInFen: 0,
        cashOutFen: 0,
        principalSpentFen: 0,
        bonusSpentFen: 0,
        netFen: 0,
        principalFloatChangeFen: 0,
        franchiseOwesHqFen: 0,
        hqOwesFranchiseFen: 0,
      },
    });
  });
});
