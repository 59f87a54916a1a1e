/**
 * "Best bracket wins": of the brackets whose threshold the amount reaches, the one with the highest
 * threshold applies (¥250 under 100/200/300 → the 200 bracket). Brackets do not stack: a ¥300 top-up
 * gets the 300 bonus, not 100 + 200 + 300.
 */
export function bestBracket<B>(brackets: readonly B[], thresholdOf: (b: B) => number, amount: number): B | null {
  let best: B | null = null;
  for (const bracket of brackets) {
    const threshold = thresholdOf(bracket);
    if (threshold <= amount && (best === null || threshold > thresholdOf(best))) best = bracket;
  }
  return best;
}
