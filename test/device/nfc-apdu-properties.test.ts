import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readStorageRecord, readUid } from '../../device/nfc/member-card-reading.ts';
import { identifyByRecord } from '../../device/nfc/card-identification.ts';
import { CardStatusError, NoCardResponseError } from '../../device/nfc/apdu.ts';
import { CardName, storageCardAtr } from '../../device/emulators/card-models.ts';

/**
 * Whatever a card (or something pretending to be one) answers, reading a member record ends in one of
 * the errors the reader turns into a clear refusal, or in bytes that verify only if they really are a
 * record MACed for this UID — never in an exception of another kind, never in a forged member.
 */
const cardKey = Buffer.alloc(32, 7);
const config = { cardKey, classicKey: Buffer.alloc(6, 0xff), classicKeyType: 'A' as const, aid: Buffer.from('F04D4B4D454D4231', 'hex') };
const responses = fc.array(fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)), { minLength: 1, maxLength: 8 });
const answers = (list: Buffer[]) => {
  let i = 0;
  return async () => list[Math.min(i++, list.length - 1)]!;
};
const isExpectedError = (error: unknown) => error instanceof CardStatusError || error instanceof NoCardResponseError;

describe('APDU responses from arbitrary cards', () => {
  it.each([
    ['NTAG/Ultralight', CardName.ultralight],
    ['MIFARE Classic 1K', CardName.mifareClassic1k],
  ])('never escape as unexpected errors or forged members (%s)', async (_name, cardName) => {
    const atr = storageCardAtr(cardName);
    await fc.assert(
      fc.asyncProperty(responses, async (list) => {
        try {
          const record = await readStorageRecord(atr, answers(list), config);
          expect(identifyByRecord('04A22B1C', record, cardKey).verification).not.toBe('verified');
        } catch (error) {
          expect(isExpectedError(error)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a UID only from a response that ends in 90 00', async () => {
    await fc.assert(
      fc.asyncProperty(responses, async (list) => {
        try {
          await readUid(answers(list));
          expect(list[0]!.subarray(-2).equals(Buffer.from([0x90, 0x00]))).toBe(true);
        } catch (error) {
          expect(isExpectedError(error)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
