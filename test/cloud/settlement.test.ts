import { beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../cloud/ledger/index.ts';
import { useRestApi } from '../helpers/rest-api.ts';
import { BACKENDS, expectLedgerConsistent, key, useDatabases, testLedger } from './support.ts';

const databases = useDatabases();
const clerk = { type: 'operator', id: 'settlement-test' } as const;

describe.each(BACKENDS)('cross-store settlement on %s', (backend) => {
  const rest = useRestApi(() => databases.open(backend));
  const { send } = rest;
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await testLedger(rest.db);
  });

  /** The settlement from `from` until a minute from now, as `token` sees it. */
  const settlement = (token: string, from: Date) =>
    send('GET', `/settlement?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, token);
  const lineOf = (report: { lines: Array<{ storeId: string | null }> }, storeId: string | null) => report.lines.find((l) => l.storeId === storeId);

  it('acceptance: ¥100 topped up at store A and spent at store B — A owes HQ, B is owed, the totals net to zero', async () => {
    const from = new Date();
    const member = (await send('POST', '/members', rest.org.tokens.jingan.cashier, { name: '赵六 Zhao Liu' })).json();
    const topUp = await send('POST', `/members/${member.memberId}/topups`, rest.org.tokens.jingan.cashier, { idempotencyKey: key(), amountFen: 10_000 });
    expect(topUp.statusCode).toBe(201);
    // The member shops at a store of another region; an HQ cashier records it there.
    const pay = await send('POST', `/members/${member.memberId}/payments`, rest.org.tokens.hq.cashier, {
      idempotencyKey: key(),
      amountFen: 10_000,
      storeId: 'gz-tianhe',
    });
    expect(pay.statusCode).toBe(201);

    const reply = await settlement(rest.org.tokens.hq.admin, from);
    expect(reply.statusCode).toBe(200);
    const report = reply.json();
    expect(lineOf(report, 'sh-jingan')).toEqual({
      storeId: 'sh-jingan',
      storeKind: 'franchise',
      internal: false,
      cashInFen: 10_000,
      cashOutFen: 0,
      principalSpentFen: 0,
      bonusSpentFen: 0,
      netFen: 10_000,
      direction: 'store_owes_hq',
    });
    expect(lineOf(report, 'gz-tianhe')).toMatchObject({ principalSpentFen: 10_000, netFen: -10_000, direction: 'hq_owes_store' });
    expect(lineOf(report, 'sh-xuhui')).toMatchObject({ netFen: 0, direction: 'even', internal: true });
    expect(report.totals).toMatchObject({ netFen: 0, principalFloatChangeFen: 0, franchiseOwesHqFen: 10_000, hqOwesFranchiseFen: 10_000 });
    await expectLedgerConsistent(rest.db);
  });

  it('charges the bonus to HQ and follows a refund to the store that handed the cash back', async () => {
    const from = new Date();
    const { memberId } = await ledger.createMember({ name: 'Bonus Bo', homeStoreId: 'sh-xuhui', actor: clerk });
    const bonusRules = [{ id: 'r100', thresholdFen: 10_000, bonusFen: 2_000 }];
    // 充100送20 at Xuhui (direct); ¥30 spent bonus-first at Jing'an (franchise); a ¥50 top-up at Xuhui refunded there.
    await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 10_000, bonusRules, storeId: 'sh-xuhui', actor: clerk });
    await ledger.payWithStoredValue({ idempotencyKey: key(), memberId, amountFen: 3_000, spendingOrder: 'bonus_first', storeId: 'sh-jingan', actor: clerk });
    const small = await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 5_000, storeId: 'sh-xuhui', actor: clerk });
    await ledger.refund({ originalTxId: small.txId, idempotencyKey: key(), reason: 'Changed their mind', storeId: 'sh-xuhui', actor: clerk });

    const report = (await settlement(rest.org.tokens.east.admin, from)).json();
    expect(report.lines.map((l: { storeId: string }) => l.storeId)).toEqual(['sh-jingan', 'sh-xuhui']);
    expect(lineOf(report, 'sh-xuhui')).toMatchObject({ cashInFen: 15_000, cashOutFen: 5_000, principalSpentFen: 0, bonusSpentFen: 0, netFen: 10_000, internal: true });
    expect(lineOf(report, 'sh-jingan')).toMatchObject({ principalSpentFen: 1_000, bonusSpentFen: 2_000, netFen: -3_000, internal: false });
    // Σ net = principal still held for the member (¥90) − the bonus HQ paid for (¥20).
    expect(report.totals).toMatchObject({ principalFloatChangeFen: 9_000, bonusSpentFen: 2_000, netFen: 7_000 });
    await expectLedgerConsistent(rest.db);
  });

  it('shows each region its own stores; HQ also sees transactions recorded without a store', async () => {
    const from = new Date();
    const { memberId } = await ledger.createMember({ name: 'Old Kiosk', actor: clerk });
    await ledger.topUpCash({ idempotencyKey: key(), memberId, amountFen: 700, actor: clerk });
    const storesOf = async (token: string) => (await settlement(token, from)).json().lines.map((l: { storeId: string | null }) => l.storeId);
    expect(await storesOf(rest.org.tokens.hq.manager)).toEqual(['gz-tianhe', 'sh-jingan', 'sh-xuhui', null]);
    expect(await storesOf(rest.org.tokens.east.manager)).toEqual(['sh-jingan', 'sh-xuhui']);
    expect(await storesOf(rest.org.tokens.south.admin)).toEqual(['gz-tianhe']);
    const hq = (await settlement(rest.org.tokens.hq.admin, from)).json();
    expect(lineOf(hq, null)).toMatchObject({ storeKind: null, cashInFen: 700, netFen: 700 });
  });

  it('counts only the period [from, to)', async () => {
    const later = new Date(Date.now() + 30_000);
    const report = (await settlement(rest.org.tokens.hq.admin, later)).json();
    expect(report.lines.every((l: { netFen: number; cashInFen: number }) => l.netFen === 0 && l.cashInFen === 0)).toBe(true);
    expect(report.from).toBe(later.toISOString());
  });

  it('refuses stores, cashiers, technicians, bad periods and anonymous callers', async () => {
    const from = new Date(Date.now() - 60_000);
    const cases: Array<[string, () => ReturnType<typeof send>, number, string]> = [
      ['store admin', () => settlement(rest.org.tokens.xuhui.admin, from), 403, 'FORBIDDEN'],
      ['HQ cashier', () => settlement(rest.org.tokens.hq.cashier, from), 403, 'FORBIDDEN'],
      ['HQ technician', () => settlement(rest.org.tokens.hq.technician, from), 403, 'FORBIDDEN'],
      ['from after to', () => send('GET', '/settlement?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', rest.org.tokens.hq.admin), 400, 'INVALID_INPUT'],
      ['from equals to', () => send('GET', '/settlement?from=2026-02-01T00:00:00Z&to=2026-02-01T00:00:00Z', rest.org.tokens.hq.admin), 400, 'INVALID_INPUT'],
      ['date without time', () => send('GET', '/settlement?from=2026-01-01&to=2026-02-01', rest.org.tokens.hq.admin), 400, 'VALIDATION_FAILED'],
      ['missing to', () => send('GET', '/settlement?from=2026-01-01T00:00:00Z', rest.org.tokens.hq.admin), 400, 'VALIDATION_FAILED'],
      ['no token', () => rest.app.inject({ method: 'GET', url: '/api/v1/settlement?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z' }), 401, 'UNAUTHENTICATED'],
    ];
    for (const [label, call, status, code] of cases) {
      const reply = await call();
      expect({ label, status: reply.statusCode, code: reply.json().error?.code }).toEqual({ label, status, code });
    }
  });
});
