import { DEFAULT_RECEIPT_COLUMNS, formatReceiptTime, row, textLine, type ReceiptLine } from './receipt.ts';

/** A voucher the kiosk hands out: an item redeemed with points, or a coupon. The code is what the till scans. */
export interface Voucher {
  kind: 'redemption' | 'coupon';
  /** Unique and single-use; printing the same voucher again prints the same code, never a second one. */
  code: string;
  /** What the voucher is for, as the member should read it, e.g. "拿铁咖啡 Latte". */
  item: string;
  validUntil: Date;
  storeName: string;
  memberName: string;
  cardUidMasked: string;
  deviceId: string;
  txId: string;
  at: Date;
}

const TITLES: Record<Voucher['kind'], string> = {
  redemption: '兑换券 / Redemption voucher',
  coupon: '优惠券 / Coupon',
};

/**
 * "张*", "L**": a voucher is a bearer slip that gets handed on, so it shows only enough of the name for
 * the member to recognise it as theirs.
 */
export function maskMemberName(name: string): string {
  const [first = '', ...rest] = [...name.trim()];
  return first + '*'.repeat(Math.min(rest.length, 3));
}

/** "YYYY-MM-DD HH:MM", China time: the minute a voucher stops being valid. */
function validityTime(at: Date): string {
  return formatReceiptTime(at).slice(0, 16);
}

/** Lays out a voucher, in Chinese and English: the code large and as a standard QR code. Pure. */
export function renderVoucher(voucher: Voucher, columns = DEFAULT_RECEIPT_COLUMNS): ReceiptLine[] {
  const rule = textLine('-'.repeat(columns));
  return [
    textLine(voucher.storeName, { align: 'center', bold: true }),
    textLine(TITLES[voucher.kind], { align: 'center', bold: true, tall: true }),
    rule,
    textLine(voucher.item, { align: 'center', bold: true, tall: true }),
    textLine('券码 Code', { align: 'center' }),
    // Double width and height: a clerk types it in when the scanner cannot read a crumpled slip.
    textLine(voucher.code, { align: 'center', bold: true, tall: true, wide: true }),
    { kind: 'qr', data: voucher.code },
    rule,
    ...row('有效期 Valid to', validityTime(voucher.validUntil), columns, true),
    ...row('会员 Member', maskMemberName(voucher.memberName), columns),
    ...row('卡号 Card', voucher.cardUidMasked, columns),
    ...row('时间 Issued', formatReceiptTime(voucher.at), columns),
    ...row('设备 Device', voucher.deviceId, columns),
    ...row('交易号 Tx', voucher.txId, columns),
    textLine('请在收银台出示 · 限用一次', { align: 'center' }),
    textLine('Show at the counter. One use.', { align: 'center' }),
  ];
}
