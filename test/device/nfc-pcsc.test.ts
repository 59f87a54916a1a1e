import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NFC, type Card, type Reader } from 'nfc-pcsc';
import { startPcscd, type PcscdHandle } from '../helpers/pcscd.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import type { CardRemoval, CardTap, CardReaderError } from '../../device/nfc/card-reader.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { CardName, IsoDepCard, SW, storageCardAtr } from '../../device/emulators/card-models.ts';
import { nextEvent } from '../helpers/events.ts';

/** vpcd slot 0, the port startPcscd reports. */
const SLOT0 = 'Virtual PCD 00 00';

let pcscd: PcscdHandle;
let reader: PcscCardReader;

beforeAll(async () => {
  pcscd = await startPcscd();
  reader = new PcscCardReader();
  const slotSeen = nextEvent(reader, 'reader-connected', (info: { readerName: string }) => info.readerName === SLOT0);
  await reader.start();
  await slotSeen;
});

afterAll(async () => {
  await reader?.stop();
  await pcscd?.stop();
});


/**
 * Every test waits until pcscd has seen its card leave: vpcd notices a closed card socket only at its
 * next presence poll, and a reader that connects before that blocks on the vanished card.
 */
async function tapAndRemove(card: VirtualCard): Promise<{ tap: CardTap; removal: CardRemoval }> {
  const tapped = nextEvent<CardTap>(reader, 'card');
  await card.insert(pcscd.vpcdPort);
  const tap = await tapped;
  const removed = nextEvent<CardRemoval>(reader, 'card-removed');
  await card.remove();
  return { tap, removal: await removed };
}

describe('PcscCardReader over pcscd + vpcd', () => {
  it('reports a 4-byte UID on tap and the same card on removal', async () => {
    const { tap, removal } = await tapAndRemove(new VirtualCard({ uid: '04a22b1c' }));
    expect(tap).toEqual({ uid: '04A22B1C', readerName: SLOT0, verification: 'uid-only' });
    expect(removal).toEqual({ uid: '04A22B1C', readerName: SLOT0 });
  });

  it('reports a 7-byte UID', async () => {
    const { tap } = await tapAndRemove(new VirtualCard({ uid: '04:11:22:33:44:55:66' }));
    expect(tap).toEqual({ uid: '04112233445566', readerName: SLOT0, verification: 'uid-only' });
  });

  it('turns a phone (ISO 14443-4, no AID) into an error event and keeps working', async () => {
    const phone = new VirtualCard(new IsoDepCard());
    const failed = nextEvent<CardReaderError>(reader, 'error');
    await phone.insert(pcscd.vpcdPort);
    const error = await failed;
    expect(error.message).toMatch(/ISO 14443-4 card .*not a member card/);
    expect(error.readerName).toBe(SLOT0);
    const removed = nextEvent<CardRemoval>(reader, 'card-removed');
    await phone.remove();
    expect(await removed).toEqual({ uid: null, readerName: SLOT0 });

    const { tap } = await tapAndRemove(new VirtualCard({ uid: '04A22B1D' }));
    expect(tap.uid).toBe('04A22B1D');
  });

  it('turns a storage card that refuses GET DATA into an error event', async () => {
    const broken = new VirtualCard({ atr: storageCardAtr(CardName.ultralight), respond: () => SW.functionNotSupported });
    const failed = nextEvent<CardReaderError>(reader, 'error');
    await broken.insert(pcscd.vpcdPort);
    expect((await failed).message).toMatch(/could not read the card's UID/);
    const removed = nextEvent<CardRemoval>(reader, 'card-removed');
    await broken.remove();
    expect(await removed).toEqual({ uid: null, readerName: SLOT0 });
  });

  it('refuses to start, with a clear message, when pcscd is not reachable', async () => {
    const saved = process.env.PCSCLITE_CSOCK_NAME;
    process.env.PCSCLITE_CSOCK_NAME = `${pcscd.socketPath}.absent`;
    try {
      await expect(new PcscCardReader().start()).rejects.toThrow(/pcscd\) is not reachable at .*\.absent \(ENOENT\)/);
    } finally {
      process.env.PCSCLITE_CSOCK_NAME = saved;
    }
  });

  it('stops from inside a card-removed handler and releases PC/SC, so its process exits by itself', async () => {
    // In a child process: a deadlocked native close or a leaked PC/SC handle would hang it, not this runner.
    const module = fileURLToPath(new URL('../../device/nfc/pcsc-card-reader.ts', import.meta.url));
    const script = `
      const { PcscCardReader } = await import(${JSON.stringify(module)});
      const reader = new PcscCardReader();
      reader.on('reader-connected', ({ readerName }) => readerName === ${JSON.stringify(SLOT0)} && process.send('ready'));
      reader.on('card', ({ uid }) => process.send(uid));
      reader.on('card-removed', () => void reader.stop().then(() => process.disconnect()));
      await reader.start();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      timeout: 15_000,
      killSignal: 'SIGKILL',
    });
    const exited = once(child, 'exit');
    await nextEvent<string>(child, 'message', (message) => message === 'ready');
    const card = new VirtualCard({ uid: '04A22B1E' });
    const tapped = nextEvent<string>(child, 'message');
    await card.insert(pcscd.vpcdPort);
    expect(await tapped).toBe('04A22B1E');
    await card.remove();
    expect(await exited).toEqual([0, null]);
  });
});

describe('the storage card through pcscd, read with nfc-pcsc directly', () => {
  const pages = Array.from({ length: 16 }, (_, page) => Buffer.from([page, 0xa0 + page, 0xb0 + page, 0xc0 + page]));
  const card = new VirtualCard({ uid: '04112233445566', pages });
  let nfc: NFC;
  const readers: Reader[] = [];

  beforeAll(() => {
    nfc = new NFC();
    nfc.on('error', () => undefined);
    nfc.on('reader', (r) => {
      r.on('error', () => undefined);
      readers.push(r);
    });
  });

  // The card stays on the reader until nfc-pcsc is closed: closing while nfc-pcsc is still disconnecting
  // from a removed card deadlocks (see settleDisconnect in pcsc-card-reader.ts).
  afterAll(async () => {
    nfc.close();
    for (const r of readers) r.close();
    await card.remove();
  });

  it('presents a PC/SC storage-card ATR and serves page reads (FF B0) from the emulated memory', async () => {
    const slot = readers.find((r) => r.name === SLOT0) ?? (await nextEvent<Reader>(nfc, 'reader', (r) => r.name === SLOT0));
    const seen = nextEvent<Card>(slot, 'card');
    await card.insert(pcscd.vpcdPort);
    const tapped = await seen;
    expect(tapped.atr?.[5]).toBe(0x4f);
    expect(tapped.atr).toEqual(storageCardAtr(CardName.ultralight));

    expect(await slot.read(4, 8)).toEqual(Buffer.concat([pages[4]!, pages[5]!]));
    await expect(slot.read(15, 8)).rejects.toThrow(/0x6a82/);
  });
});
