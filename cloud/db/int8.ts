/**
 * PostgreSQL bigint (int8) arrives as text. Amounts, balances and counts are bigint in SQL and plain
 * numbers in TypeScript, so both backends parse int8 with this: exact, or an error — never a rounded number.
 */
export const INT8_OID = 20;

export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} is outside JavaScript's safe integer range`);
  return value;
}
