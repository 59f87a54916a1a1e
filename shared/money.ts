/**
 * Money is always an integer number of minor units (fen) with its currency.
 * No float ever touches an amount: parsing and formatting work on digits, not on division.
 */
export type Currency = 'CNY';

export interface Money {
  readonly amountFen: number;
  readonly currency: Currency;
}

export class InvalidAmountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAmountError';
  }
}

/** The largest amount we accept in one value: ¥10,000,000.00 — far above any kiosk or till operation. */
export const MAX_AMOUNT_FEN = 1_000_000_000;

export function isFen(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) <= MAX_AMOUNT_FEN;
}

export function cny(amountFen: number): Money {
  if (!isFen(amountFen)) throw new InvalidAmountError(`not a whole number of fen: ${String(amountFen)}`);
  return { amountFen, currency: 'CNY' };
}

export function addMoney(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new InvalidAmountError(`cannot add ${a.currency} to ${b.currency}`);
  return cny(a.amountFen + b.amountFen);
}

/** "¥100.00", "-¥0.05": grouping-free so receipts stay narrow. */
export function formatFen(amountFen: number): string {
  if (!isFen(amountFen)) throw new InvalidAmountError(`not a whole number of fen: ${String(amountFen)}`);
  const sign = amountFen < 0 ? '-' : '';
  const abs = Math.abs(amountFen);
  const yuan = Math.trunc(abs / 100);
  const fen = abs % 100;
  return `${sign}¥${yuan}.${fen.toString().padStart(2, '0')}`;
}

/** Parses "100", "100.5", "100.50" (yuan, as a clerk types it) into fen without floating point. */
export function parseYuan(text: string): number {
  const match = /^(\d{1,8})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) throw new InvalidAmountError(`not an amount in yuan: "${text}"`);
  const yuan = Number(match[1]);
  const fen = Number((match[2] ?? '').padEnd(2, '0'));
  return cny(yuan * 100 + fen).amountFen;
}
