import { InvalidCardError, maskCardNumber, maskCardUid, normalizeCardNumber, normalizeCardUid } from '../../shared/card.ts';
import { isDeviceId, isUuid } from '../../shared/ids.ts';
import { MAX_AMOUNT_FEN, formatFen } from '../../shared/money.ts';
import { invalid } from '../kernel/input.ts';
import { ledgerErrors } from './errors.ts';

/**
 * Input checks for the ledger's public operations (the plain ones every module uses are in kernel/input.ts).
 * They run before any SQL, so bad input changes nothing, and they hold for every caller.
 */

/** Points share the fen ceiling: far beyond any real balance, and well inside JavaScript's safe integers. */
export const MAX_POINTS = MAX_AMOUNT_FEN;

/** A malformed member id cannot name any member, so it is reported as not found. */
export function memberIdOf(value: unknown): string {
  if (!isUuid(value)) throw memberNotFound(String(value));
  return value;
}

export function memberNotFound(memberId: string) {
  return ledgerErrors.MEMBER_NOT_FOUND({ zh: `没有编号为 ${memberId} 的会员`, en: `No member has the id ${memberId}` });
}

export function fenOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_AMOUNT_FEN) {
    throw ledgerErrors.INVALID_AMOUNT({
      zh: `金额须为 1 至 ${MAX_AMOUNT_FEN} 分（${formatFen(MAX_AMOUNT_FEN)}）之间的整数，收到 ${JSON.stringify(value)}`,
      en: `The amount must be a whole number of fen from 1 to ${MAX_AMOUNT_FEN} (${formatFen(MAX_AMOUNT_FEN)}); got ${JSON.stringify(value)}`,
    });
  }
  return value;
}

export function pointsOf(value: unknown, { allowNegative }: { allowNegative: boolean }): number {
  const ok =
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value !== 0 &&
    Math.abs(value) <= MAX_POINTS &&
    (allowNegative || value > 0);
  if (!ok) {
    const range = allowNegative ? { zh: `-${MAX_POINTS} 至 ${MAX_POINTS} 之间且不为 0`, en: `from -${MAX_POINTS} to ${MAX_POINTS}, not 0` } : { zh: `1 至 ${MAX_POINTS} 之间`, en: `from 1 to ${MAX_POINTS}` };
    throw ledgerErrors.INVALID_AMOUNT({ zh: `积分须为${range.zh}的整数，收到 ${JSON.stringify(value)}`, en: `Points must be a whole number ${range.en}; got ${JSON.stringify(value)}` });
  }
  return value;
}

export function cardUidOf(value: unknown): string {
  if (typeof value !== 'string') throw ledgerErrors.INVALID_CARD_UID({ zh: '缺少卡片 UID', en: 'A card UID is required' });
  try {
    return normalizeCardUid(value);
  } catch (error) {
    if (!(error instanceof InvalidCardError)) throw error;
    // The raw text may be a real card number: show only its tail.
    const masked = maskCardUid(value);
    throw ledgerErrors.INVALID_CARD_UID({ zh: `卡片 UID ${masked} 不是 4、7 或 10 字节的十六进制`, en: `Card UID ${masked} is not 4, 7 or 10 bytes of hex` });
  }
}

export function cardNumberOf(value: unknown): string {
  if (typeof value !== 'string') throw ledgerErrors.INVALID_CARD_NUMBER({ zh: '缺少卡号', en: 'A card number is required' });
  try {
    return normalizeCardNumber(value);
  } catch (error) {
    if (!(error instanceof InvalidCardError)) throw error;
    const masked = maskCardNumber(value);
    throw ledgerErrors.INVALID_CARD_NUMBER({ zh: `卡号 ${masked} 不是 16 位数字`, en: `Card number ${masked} is not 16 digits` });
  }
}

export function phoneOf(value: unknown): string {
  const phone = typeof value === 'string' ? value.replace(/[\s-]/g, '') : '';
  if (!/^\+?\d{5,20}$/.test(phone)) throw invalid('手机号须为 5 至 20 位数字，可以 + 开头', 'phone must be 5 to 20 digits, optionally starting with +');
  return phone;
}

/** A device transaction carries both its device id and its sequence number, or neither. */
export function deviceOf(deviceId: unknown, deviceSeq: unknown): { deviceId?: string; deviceSeq?: number } {
  if (deviceId === undefined && deviceSeq === undefined) return {};
  if (!isDeviceId(deviceId)) throw invalid(`deviceId 不是有效的设备编号：${JSON.stringify(deviceId)}`, `deviceId is not a valid device id: ${JSON.stringify(deviceId)}`);
  if (typeof deviceSeq !== 'number' || !Number.isSafeInteger(deviceSeq) || deviceSeq < 1) {
    throw invalid(`deviceSeq 须为正整数，收到 ${JSON.stringify(deviceSeq)}`, `deviceSeq must be a positive whole number; got ${JSON.stringify(deviceSeq)}`);
  }
  return { deviceId, deviceSeq };
}
