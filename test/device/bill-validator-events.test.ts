import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counterBefore, eventsBetween, newEvents, parseEventBuffer, type EventBuffer } from '../../device/bill-validator/bill-events.ts';
import { billValueFen, inhibitMask, parseBillId, parseScalingFactor } from '../../device/bill-validator/bill-table.ts';

const buffer = (counter: number, ...pairs: Array<[number, number]>): EventBuffer => ({
  counter,
  pairs: Array.from({ length: 5 }, (_, i) => ({ a: pairs[i]?.[0] ?? 0, b: pairs[i]?.[1] ?? 0 })),
});

describe('event buffer arithmetic', () => {
  it('counts events across the 255 → 1 wrap, which skips 0', () => {
    expect(eventsBetween(3, 7)).toBe(4);
    expect(eventsBetween(254, 2)).toBe(3); // 255, 1, 2
    expect(eventsBetween(255, 1)).toBe(1);
    expect(eventsBetween(0, 4)).toBe(4); // first events after a reset
    expect([counterBefore(2, 0), counterBefore(2, 1), counterBefore(2, 2), counterBefore(2, 3)]).toEqual([2, 1, 255, 254]);
  });

  it('gives new events oldest first with their own counters', () => {
    const batch = newEvents(254, buffer(2, [3, 0], [2, 0], [1, 0], [9, 9]));
    expect(batch).toEqual({
      kind: 'events', counter: 2, missed: 0,
      events: [{ counter: 255, a: 1, b: 0 }, { counter: 1, a: 2, b: 0 }, { counter: 2, a: 3, b: 0 }],
    });
  });

  it('takes the current counter as baseline without a previous one, and sees a reset in a 0 after non-zero', () => {
    expect(newEvents(undefined, buffer(17, [1, 0]))).toEqual({ kind: 'baseline', counter: 17 });
    expect(newEvents(17, buffer(0))).toEqual({ kind: 'reset', counter: 0 });
    expect(newEvents(0, buffer(0))).toEqual({ kind: 'events', counter: 0, events: [], missed: 0 });
  });

  it('reports more than 5 new events as lost and offers only the 5 it can see', () => {
    const batch = newEvents(10, buffer(17, [5, 0], [5, 0], [5, 0], [5, 0], [5, 0]));
    expect(batch).toMatchObject({ kind: 'events', missed: 2 });
    expect(batch.kind === 'events' && batch.events.map((event) => event.counter)).toEqual([13, 14, 15, 16, 17]);
  });

  it('reads only a reply of exactly 11 bytes', () => {
    expect(parseEventBuffer(Buffer.from([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toEqual(buffer(1, [2, 0]));
    expect(parseEventBuffer(Buffer.from([1, 2, 0]))).toBeNull();
  });

  it('never yields more stacked events than the reply holds, nor more than the counter advanced', () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }), fc.uint8Array({ maxLength: 14 }), (last, reply) => {
        const parsed = parseEventBuffer(reply);
        if (!parsed) return;
        const batch = newEvents(last, parsed);
        if (batch.kind !== 'events') return;
        const stackedInReply = parsed.pairs.filter((pair) => pair.a !== 0 && pair.b === 0).length;
        const stacked = batch.events.filter((event) => event.a !== 0 && event.b === 0).length;
        expect(stacked).toBeLessThanOrEqual(stackedInReply);
        expect(batch.events.length + batch.missed).toBe(eventsBetween(last!, parsed.counter));
        expect(new Set(batch.events.map((event) => event.counter)).size).toBe(batch.events.length);
      }),
    );
  });
});

describe('bill table', () => {
  it('reads bill ids and turns them into fen with the country scaling factor', () => {
    expect(parseBillId('CN0100A')).toEqual({ country: 'CN', value: 100, issue: 'A' });
    expect(parseBillId('.......')).toBeNull();
    expect(parseScalingFactor(Buffer.from([100, 0, 2]))).toEqual({ factor: 100, decimals: 2 });
    expect(parseScalingFactor(Buffer.from([0, 0, 0]))).toBeNull();
    expect(billValueFen(parseBillId('CN0100A')!, { factor: 100, decimals: 2 })).toBe(10_000);
    expect(billValueFen(parseBillId('CN0010A')!, { factor: 1, decimals: 0 })).toBe(1_000);
    expect(billValueFen(parseBillId('CN0005A')!, { factor: 1, decimals: 3 })).toBeNull(); // half a fen is no money
    expect(billValueFen(parseBillId('EU0010A')!, { factor: 1, decimals: 0 })).toBeNull();
  });

  it('enables exactly the types worth an accepted value', () => {
    const table = [
      { billType: 1, billId: 'CN0005A', valueFen: 500 },
      { billType: 2, billId: 'CN0010A', valueFen: 1000 },
      { billType: 10, billId: 'CN0100A', valueFen: 10_000 },
      { billType: 11, billId: '.......', valueFen: null },
    ];
    expect(inhibitMask(table, [1000, 10_000])).toEqual([0b10, 0b10]);
  });
});
