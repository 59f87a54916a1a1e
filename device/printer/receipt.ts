import { formatFen } from '../../shared/money.ts';
import type { Balances } from '../../shared/contract/payloads.ts';

/** Everything a top-up receipt shows; the kiosk fills it from the outbox entry and the member snapshot. */
export interface TopUpReceipt {
  storeName: string;
  deviceId: string;
  memberName: string;
  cardUidMasked: string;
  amountFen: number;
  /** The bonus and bonus points this top-up earned (top-up bonus rules); absent: the kiosk priced none. */
  bonus?: { bonusFen: number; bonusPoints: number };
  balances: Balances;
  txId: string;
  seq: number;
  at: Date;
  /** The hub has not confirmed the top-up yet; the balances are the kiosk's own estimate. */
  pendingSync: boolean;
}

/** A printer-independent receipt: the transport turns these into ESC/POS. */
export type ReceiptLine =
  | { kind: 'text'; text: string; align: 'left' | 'center'; bold: boolean; tall: boolean; wide?: boolean }
  | { kind: 'qr'; data: string };

/** 58 mm paper with font A: 32 half-width columns (a CJK character takes two). */
export const DEFAULT_RECEIPT_COLUMNS = 32;

const TIME_ZONE = 'Asia/Shanghai';

/** Columns a string occupies on a CJK receipt printer: East Asian wide and full-width characters take two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const wide =
      (code >= 0x1100 && code <= 0x115f) ||
      (code >= 0x2e80 && code <= 0xa4cf) ||
      (code >= 0xac00 && code <= 0xd7a3) ||
      (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe30 && code <= 0xfe4f) ||
      (code >= 0xff00 && code <= 0xff60) ||
      (code >= 0xffe0 && code <= 0xffe6) ||
      code >= 0x20000;
    width += wide ? 2 : 1;
  }
  return width;
}

export function textLine(content: string, style: Partial<Omit<Extract<ReceiptLine, { kind: 'text' }>, 'kind' | 'text'>> = {}): ReceiptLine {
  return { kind: 'text', text: content, align: 'left', bold: false, tall: false, ...style };
}

/** "label      value" across the paper; the value moves to its own right-aligned line if both do not fit. */
export function row(label: string, value: string, columns: number, bold = false): ReceiptLine[] {
  const gap = columns - displayWidth(label) - displayWidth(value);
  if (gap >= 1) return [textLine(label + ' '.repeat(gap) + value, { bold })];
  const indent = Math.max(0, columns - displayWidth(value));
  return [textLine(label, { bold }), textLine(' '.repeat(indent) + value, { bold })];
}

/** "2025-01-02 13:45:08" in China Standard Time, whatever the kiosk's own time zone is. */
export function formatReceiptTime(at: Date): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE,
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

/**
 * Amounts as printed: the full-width yuan sign ￥ (GB2312 A3A4) rather than ¥ (U+00A5), which GB18030
 * encodes as a four-byte sequence that printers with GBK-only fonts print as garbage.
 */
function printedAmount(fen: number): string {
  return formatFen(fen).replace('¥', '￥');
}

/** Lays out the member-facing top-up receipt, in Chinese and English. Pure: no printer involved. */
export function renderTopUpReceipt(receipt: TopUpReceipt, columns = DEFAULT_RECEIPT_COLUMNS): ReceiptLine[] {
  const { balances } = receipt;
  const rule = textLine('-'.repeat(columns));
  return [
    textLine(receipt.storeName, { align: 'center', bold: true, tall: true }),
    textLine('充值凭条 / Top-up receipt', { align: 'center' }),
    rule,
    ...row('会员 Member', receipt.memberName, columns),
    ...row('卡号 Card', receipt.cardUidMasked, columns),
    ...row('充值金额 Top-up', printedAmount(receipt.amountFen), columns, true),
    ...(receipt.bonus
      ? [
          ...row('  本金 Principal', printedAmount(receipt.amountFen), columns),
          ...row('  赠送 Bonus', `+${printedAmount(receipt.bonus.bonusFen)}`, columns),
          ...row('  赠送积分 Bonus points', `+${receipt.bonus.bonusPoints}`, columns),
        ]
      : []),
    ...row('储值余额 Balance', printedAmount(balances.principalFen + balances.bonusFen), columns),
    ...row('  本金 Principal', printedAmount(balances.principalFen), columns),
    ...row('  赠送 Bonus', printedAmount(balances.bonusFen), columns),
    ...row('积分 Points', String(balances.points), columns),
    rule,
    ...row('时间 Time', formatReceiptTime(receipt.at), columns),
    ...row('设备 Device', `${receipt.deviceId} #${receipt.seq}`, columns),
    ...row('交易号 Tx', receipt.txId, columns),
    { kind: 'qr', data: receipt.txId },
    ...(receipt.pendingSync
      ? [
          textLine('待同步 Pending sync', { align: 'center', bold: true }),
          textLine('余额待总部确认', { align: 'center' }),
          textLine('Balance not yet confirmed', { align: 'center' }),
        ]
      : []),
    textLine('谢谢惠顾 Thank you', { align: 'center' }),
  ];
}
