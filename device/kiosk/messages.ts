import { formatFen } from '../../shared/money.ts';
import type { TopUpOffer } from '../../shared/rules/session-topup.ts';

/** Member-facing text, always in Chinese and English. */
export interface Bilingual {
  zh: string;
  en: string;
}

export const messages = {
  tapCard: { zh: '请刷会员卡', en: 'Please tap your member card' },
  checking: { zh: '正在识别会员卡…', en: 'Reading your card…' },
  unknownCard: { zh: '此卡未登记，请到收银台办理', en: 'This card is not registered. Please ask at the counter.' },
  notMemberCard: { zh: '这不是本店会员卡', en: 'This is not one of our member cards' },
  cardRefused: { zh: '此卡暂不能使用，请到收银台咨询', en: 'This card cannot be used now. Please ask at the counter.' },
  offlineUnknownCard: {
    zh: '网络暂时中断，无法识别此卡，请稍后再试',
    en: 'The network is down and this card is not known here. Please try again later.',
  },
  insertCash: { zh: '请投入纸币充值', en: 'Insert banknotes to top up' },
  noCashHere: { zh: '本机暂不收现金，请到收银台充值', en: 'This kiosk takes no cash right now. Please top up at the counter.' },
  cashOutOfService: { zh: '纸币器暂停服务，请联系店员', en: 'The bill validator is out of service. Please contact staff.' },
  cashCheckNeeded: {
    zh: '纸币器记录不完整，请联系店员核对您的充值',
    en: 'The bill validator lost track of some bills. Please ask staff to check your top-up.',
  },
  topUpDone: { zh: '充值成功', en: 'Top-up complete' },
  topUpRejected: { zh: '充值未被确认，请联系店员', en: 'The top-up was not confirmed. Please contact staff.' },
  storageFailed: {
    zh: '系统故障，本次操作未记录，请联系店员',
    en: 'System fault: this operation was not recorded. Please contact staff.',
  },
} satisfies Record<string, Bilingual>;

/** "¥100" for whole yuan (as posters say 充100送20), "¥0.50" otherwise. */
function yuan(fen: number): string {
  return fen % 100 === 0 ? `¥${fen / 100}` : formatFen(fen);
}

function pointsText(points: number): { zh: string; en: string } {
  return points > 0 ? { zh: `+${points}积分`, en: ` + ${points} points` } : { zh: '', en: '' };
}

/**
 * The bonus while cash goes in: what the session has earned and the next bracket, e.g.
 * "充100送20 · 再投¥100可送50" / "Top up ¥100 get ¥20 · add ¥100 more to get ¥50". Before any cash:
 * "投¥100送¥20" / "Top up ¥100, get ¥20 bonus"; no bracket at all: null (nothing to show).
 */
export function offerMessage(offer: TopUpOffer): Bilingual | null {
  const earnedAny = offer.bonusFen > 0 || offer.bonusPoints > 0;
  const earned = earnedAny
    ? (() => {
        const p = pointsText(offer.bonusPoints);
        return {
          zh: `充${yuan(offer.creditedFen).slice(1)}送${yuan(offer.bonusFen).slice(1)}${p.zh}`,
          en: `Top up ${yuan(offer.creditedFen)} get ${yuan(offer.bonusFen)}${p.en}`,
        };
      })()
    : null;
  const next = offer.next
    ? (() => {
        const p = pointsText(offer.next.bonusPoints);
        const bonus = yuan(offer.next.bonusFen);
        return offer.creditedFen === 0
          ? { zh: `投${yuan(offer.next.thresholdFen)}送${bonus.slice(1)}${p.zh}`, en: `Top up ${yuan(offer.next.thresholdFen)}, get ${bonus} bonus${p.en}` }
          : { zh: `再投${yuan(offer.next.missingFen)}可送${bonus.slice(1)}${p.zh}`, en: `add ${yuan(offer.next.missingFen)} more to get ${bonus}${p.en}` };
      })()
    : null;
  if (earned && next) return { zh: `${earned.zh} · ${next.zh}`, en: `${earned.en} · ${next.en}` };
  if (next && !earned) return { zh: next.zh, en: next.en.charAt(0).toUpperCase() + next.en.slice(1) };
  return earned;
}
