/**
 * The validator's bill types in fen. Each type 1..16 has a bill id (header 157), 7 ASCII characters
 * CCVVVVI — country, value, issue — and each country a scaling factor (header 156): the bill is worth
 * VVVV × factor of the country's unit with `decimals` decimal places. Only integer arithmetic, and a value
 * that does not come out in whole fen is no value at all.
 */
export const BILL_TYPES = 16;

/** The kiosk takes yuan; bill ids of other countries never map to money. */
export const CNY_COUNTRY = 'CN';

export interface BillId {
  country: string;
  value: number;
  issue: string;
}

export interface ScalingFactor {
  factor: number;
  decimals: number;
}

export interface BillTypeInfo {
  billType: number;
  billId: string;
  /** Null when the type is unprogrammed, another currency, or its value is not whole fen. */
  valueFen: number | null;
}

const BILL_ID = /^([A-Z]{2})(\d{4})([A-Z0-9])$/;

/** Null for an unprogrammed slot (devices answer "......." or zeros) or anything else unreadable. */
export function parseBillId(text: string): BillId | null {
  const match = BILL_ID.exec(text);
  if (!match) return null;
  return { country: match[1]!, value: Number(match[2]), issue: match[3]! };
}

/** Reply to 156: [factor LSB][factor MSB][decimal places]; factor 0 means the country is unknown. */
export function parseScalingFactor(data: Uint8Array): ScalingFactor | null {
  if (data.length !== 3) return null;
  const factor = data[0]! | (data[1]! << 8);
  return factor === 0 ? null : { factor, decimals: data[2]! };
}

const FEN_DECIMALS = 2;

export function billValueFen(bill: BillId, scaling: ScalingFactor): number | null {
  if (bill.country !== CNY_COUNTRY || bill.value === 0) return null;
  const units = bill.value * scaling.factor;
  if (scaling.decimals <= FEN_DECIMALS) return units * 10 ** (FEN_DECIMALS - scaling.decimals);
  const divisor = 10 ** (scaling.decimals - FEN_DECIMALS);
  return units % divisor === 0 ? units / divisor : null;
}

/** The two mask bytes of header 231: bit n-1 set enables bill type n. */
export function inhibitMask(table: readonly BillTypeInfo[], acceptedFen: readonly number[]): [number, number] {
  let mask = 0;
  for (const info of table) {
    if (info.valueFen !== null && acceptedFen.includes(info.valueFen) && info.billType <= BILL_TYPES) mask |= 1 << (info.billType - 1);
  }
  return [mask & 0xff, mask >> 8];
}
