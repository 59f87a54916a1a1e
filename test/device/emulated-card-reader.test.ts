import { describe, expect, it } from 'vitest';
import { EmulatedCardReader } from '../../device/nfc/emulated-card-reader.ts';
import type { CardReaderEvents } from '../../device/nfc/card-reader.ts';

function record(reader: EmulatedCardReader): Array<[keyof CardReaderEvents, unknown]> {
  const events: Array<[keyof CardReaderEvents, unknown]> = [];
  for (const name of ['card', 'card-removed', 'reader-connected', 'reader-disconnected', 'error'] as const) {
    reader.on(name, (payload: unknown) => events.push([name, payload]));
  }
  return events;
}

describe('EmulatedCardReader', () => {
  it('emits what a PC/SC reader would: connected, tap with the normalised UID, removal', async () => {
    const reader = new EmulatedCardReader('Counter');
    const events = record(reader);
    await reader.start();
    reader.tap('04:a2:2b:1c');
    reader.removeCard();
    reader.removeCard();
    expect(events).toEqual([
      ['reader-connected', { readerName: 'Counter' }],
      ['card', { uid: '04A22B1C', readerName: 'Counter' }],
      ['card-removed', { uid: '04A22B1C', readerName: 'Counter' }],
    ]);
  });

  it('takes the previous card off when another is tapped, since only one fits', async () => {
    const reader = new EmulatedCardReader('Counter');
    await reader.start();
    const events = record(reader);
    reader.tap('04A22B1C');
    reader.tap('04112233445566');
    expect(events.map(([name, payload]) => [name, (payload as { uid: string }).uid])).toEqual([
      ['card', '04A22B1C'],
      ['card-removed', '04A22B1C'],
      ['card', '04112233445566'],
    ]);
  });

  it('refuses malformed UIDs and taps when not started', async () => {
    const reader = new EmulatedCardReader();
    expect(() => reader.tap('04A22B1C')).toThrow(/not started/);
    await reader.start();
    expect(() => reader.tap('04A2')).toThrow(/4, 7 or 10 bytes/);
    await reader.stop();
    expect(() => reader.tap('04A22B1C')).toThrow(/not started/);
  });
});
