import { describe, expect, it } from 'vitest';
import { mayServeOffline, mayTopUpOffline, type UnconfirmedTopUp } from '../../device/kiosk/offline-limits.ts';
import { DEFAULT_OFFLINE_LIMITS } from '../../shared/offline-limits.ts';

const limits = { perTransactionFen: 10_000, perCardPerDayFen: 20_000, perKioskTotalFen: 30_000, maxOfflineHours: 24 };
const now = new Date('2026-11-23T10:00:00+08:00');
const lastHubContact = new Date('2026-11-23T09:00:00+08:00');
const topUp = (cardUid: string, amountFen: number, createdAt = '2026-11-23T09:30:00+08:00'): UnconfirmedTopUp => ({ cardUid, amountFen, createdAt });
const request = (amountFen: number, cardUid = 'AAAAAAAA') => ({ cardUid, amountFen, lastHubContact, now });

describe('offline limits', () => {
  it('lets a bill through exactly at each cap and refuses one fen over', () => {
    expect(mayTopUpOffline(limits, request(10_000), [])).toEqual({ ok: true });
    expect(mayTopUpOffline(limits, request(10_001), [])).toMatchObject({ ok: false, reason: 'per-transaction' });
    expect(mayTopUpOffline(limits, request(10_000), [topUp('AAAAAAAA', 10_000)])).toEqual({ ok: true });
    expect(mayTopUpOffline(limits, request(10_000), [topUp('AAAAAAAA', 10_001)])).toMatchObject({ ok: false, reason: 'per-card-per-day' });
    expect(mayTopUpOffline(limits, request(10_000, 'CCCCCCCC'), [topUp('AAAAAAAA', 10_000), topUp('BBBBBBBB', 10_000)])).toEqual({ ok: true });
    expect(mayTopUpOffline(limits, request(10_000, 'CCCCCCCC'), [topUp('AAAAAAAA', 10_000), topUp('BBBBBBBB', 10_001)])).toMatchObject({
      ok: false,
      reason: 'kiosk-total',
    });
  });

  it("counts a card's day in China time: yesterday evening's top-ups do not use today's allowance", () => {
    const lateYesterday = topUp('AAAAAAAA', 20_000, '2026-11-22T23:59:59+08:00');
    const earlyToday = topUp('AAAAAAAA', 20_000, '2026-11-23T00:00:00+08:00');
    expect(mayTopUpOffline({ ...limits, perKioskTotalFen: 100_000 }, request(5_000), [lateYesterday])).toEqual({ ok: true });
    expect(mayTopUpOffline({ ...limits, perKioskTotalFen: 100_000 }, request(5_000), [earlyToday])).toMatchObject({ reason: 'per-card-per-day' });
  });

  it('stops serving from the cache after the maximum time offline, with a message in both languages', () => {
    const longAgo = new Date(now.getTime() - 24 * 3_600_000 - 1);
    expect(mayServeOffline(limits, new Date(now.getTime() - 24 * 3_600_000), now)).toEqual({ ok: true });
    expect(mayServeOffline(limits, longAgo, now)).toEqual({
      ok: false,
      reason: 'offline-too-long',
      message: { zh: '网络中断时间过长，暂停服务，请到收银台', en: 'The network has been down too long. Please go to the counter.' },
    });
    expect(mayTopUpOffline(limits, { ...request(100), lastHubContact: longAgo }, [])).toMatchObject({ reason: 'offline-too-long' });
  });

  it('names the limit in the refusal', () => {
    expect(mayTopUpOffline(DEFAULT_OFFLINE_LIMITS, request(60_000), [])).toMatchObject({
      message: { en: 'Network down: this bill is over the offline limit per top-up (¥500.00).' },
    });
  });
});
