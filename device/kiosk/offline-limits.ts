import { formatFen } from '../../shared/money.ts';
import type { OfflineLimits } from '../../shared/offline-limits.ts';
import type { Bilingual } from './messages.ts';

export interface UnconfirmedTopUp {
  cardUid: string;
  amountFen: number;
  createdAt: string;
}

export type OfflineDecision = { ok: true } | { ok: false; reason: 'per-transaction' | 'per-card-per-day' | 'kiosk-total' | 'offline-too-long'; message: Bilingual };

const HOUR_MS = 3_600_000;

function refuse(reason: Exclude<OfflineDecision, { ok: true }>['reason'], limitFen?: number): OfflineDecision {
  const limit = limitFen === undefined ? '' : ` (${formatFen(limitFen)})`;
  const messages: Record<typeof reason, Bilingual> = {
    'per-transaction': { zh: `网络中断，单笔离线充值超过上限${limit}`, en: `Network down: this bill is over the offline limit per top-up${limit}.` },
    'per-card-per-day': { zh: `网络中断，本卡今日离线充值已达上限${limit}`, en: `Network down: this card reached today's offline top-up limit${limit}.` },
    'kiosk-total': { zh: `网络中断，本机离线充值已达上限${limit}`, en: `Network down: this kiosk reached its offline top-up limit${limit}.` },
    'offline-too-long': { zh: '网络中断时间过长，暂停服务，请到收银台', en: 'The network has been down too long. Please go to the counter.' },
  };
  return { ok: false, reason, message: messages[reason] };
}

/** Whether the kiosk may serve members from its cache at all, given when it last heard from the hub. */
export function mayServeOffline(limits: OfflineLimits, lastHubContact: Date, now: Date): OfflineDecision {
  return now.getTime() - lastHubContact.getTime() > limits.maxOfflineHours * HOUR_MS ? refuse('offline-too-long') : { ok: true };
}

/** Whether one more bill of `amountFen` for `cardUid` stays within every offline cap. */
export function mayTopUpOffline(
  limits: OfflineLimits,
  request: { cardUid: string; amountFen: number; lastHubContact: Date; now: Date },
  unconfirmed: readonly UnconfirmedTopUp[],
): OfflineDecision {
  const served = mayServeOffline(limits, request.lastHubContact, request.now);
  if (!served.ok) return served;
  if (request.amountFen > limits.perTransactionFen) return refuse('per-transaction', limits.perTransactionFen);
  // "Today" is the kiosk's calendar day in China, where the chain's stores are.
  const day = (iso: string | Date) => new Date(new Date(iso).getTime() + 8 * HOUR_MS).toISOString().slice(0, 10);
  const today = day(request.now);
  const cardToday = unconfirmed
    .filter((topUp) => topUp.cardUid === request.cardUid && day(topUp.createdAt) === today)
    .reduce((sum, topUp) => sum + topUp.amountFen, 0);
  if (cardToday + request.amountFen > limits.perCardPerDayFen) return refuse('per-card-per-day', limits.perCardPerDayFen);
  const total = unconfirmed.reduce((sum, topUp) => sum + topUp.amountFen, 0);
  if (total + request.amountFen > limits.perKioskTotalFen) return refuse('kiosk-total', limits.perKioskTotalFen);
  return { ok: true };
}
