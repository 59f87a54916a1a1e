import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPcscd, type PcscdHandle } from '../helpers/pcscd.ts';
import { PcscCardReader } from '../../device/nfc/pcsc-card-reader.ts';
import type { CardReaderError, CardReaderEvents, CardRemoval, CardTap, ReaderInfo } from '../../device/nfc/card-reader.ts';
import type { MemberCardConfig } from '../../device/nfc/member-card-config.ts';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { IsoDepCard, MifareClassicCard, StorageCard, withStatusWord, type CardModel } from '../../device/emulators/card-models.ts';
import { issueMemberCard } from '../../device/emulators/member-card-issuing.ts';
import { DEFAULT_DEADLINE_MS, nextEvent } from '../helpers/events.ts';

/** vpcd slot 0, the port startPcscd reports. */
const SLOT0 = 'Virtual PCD 00 00';
const CARD_KEY = Buffer.alloc(32, 0x5a);
const SECTOR_KEY = Buffer.from('A0A1A2A3A4A5', 'hex');
const config: MemberCardConfig = {
  cardKey: CARD_KEY,
  classicKey: SECTOR_KEY,
  classicKeyType: 'A',
  aid: Buffer.from('F04D454D424552', 'hex'),
};
const NOT_VERIFIED = { zh: '此卡无法验证，请到柜台咨询', en: 'This card could not be verified — please ask at the counter' };

let pcscd: PcscdHandle;
let reader: PcscCardReader;


/** Every event the reader emits from now on, in order. */
function record(target: PcscCardReader): { events: Array<[keyof CardReaderEvents, unknown]>; done(): void } {
  const events: Array<[keyof CardReaderEvents, unknown]> = [];
  const names = ['card', 'card-removed', 'reader-connected', 'reader-disconnected', 'error'] as const;
  const listeners = names.map((name) => [name, (payload: unknown) => events.push([name, payload])] as const);
  for (const [name, listener] of listeners) target.on(name, listener);
  return { events, done: () => listeners.forEach(([name, listener]) => target.off(name, listener)) };
}

/**
 * Places the card, waits for `event`, then takes the card off and waits until pcscd has seen it leave
 * (a reader that connects before vpcd's next presence poll blocks on the vanished card).
 */
async function tap<T>(model: CardModel, event: 'card' | 'error' = 'card', options = {}): Promise<T> {
  const card = new VirtualCard(model, options);
  const seen = nextEvent<T>(reader, event, undefined, { what: `the reader's '${event}' event for the card placed on vpcd` });
  const removed = nextEvent<CardRemoval>(reader, 'card-removed', undefined, { what: 'the reader to see the card taken off' });
  await card.insert(pcscd.vpcdPort);
  const payload = await seen;
  await card.remove();
  await removed;
  return payload;
}

beforeAll(async () => {
  pcscd = await startPcscd();
});

afterAll(async () => {
  await reader?.stop();
  await pcscd?.stop();
});

describe('a card already on the reader when the kiosk starts', () => {
  it('is read like a fresh tap', async () => {
    const ntag = new StorageCard({ uid: '04C0FFEE000001' });
    issueMemberCard(ntag, '6200000000000001', CARD_KEY);
    const card = new VirtualCard(ntag);
    await card.insert(pcscd.vpcdPort);
    reader = new PcscCardReader(undefined, { memberCard: config });
    const tapped = nextEvent<CardTap>(reader, 'card');
    await reader.start();
    expect(await tapped).toEqual({ uid: '04C0FFEE000001', readerName: SLOT0, verification: 'verified', cardNumber: '6200000000000001' });
    const removed = nextEvent<CardRemoval>(reader, 'card-removed');
    await card.remove();
    expect(await removed).toEqual({ uid: '04C0FFEE000001', readerName: SLOT0 });
  });
});

describe('member records over pcscd + vpcd', () => {
  it('NTAG with a valid record: verified, with its card number', async () => {
    const ntag = new StorageCard({ uid: '04A22B1C' });
    issueMemberCard(ntag, '6200123412345678', CARD_KEY);
    expect(await tap<CardTap>(ntag)).toEqual({ uid: '04A22B1C', readerName: SLOT0, verification: 'verified', cardNumber: '6200123412345678' });
  });

  it('MIFARE Classic 1K with the chain key: verified', async () => {
    const classic = new MifareClassicCard({ uid: 'C1A55100', sectorKeys: { 1: { a: SECTOR_KEY, b: Buffer.alloc(6, 0xbb) } } });
    issueMemberCard(classic, '6200000000000042', CARD_KEY);
    expect(await tap<CardTap>(classic)).toMatchObject({ uid: 'C1A55100', verification: 'verified', cardNumber: '6200000000000042' });
  });

  it('MIFARE Classic 1K with another key: refused, the member told to ask at the counter', async () => {
    const classic = new MifareClassicCard({ uid: 'C1A55101', sectorKeys: { 1: { a: Buffer.alloc(6, 0x11), b: Buffer.alloc(6, 0x22) } } });
    issueMemberCard(classic, '6200000000000043', CARD_KEY);
    const refused = await tap<CardTap>(classic);
    expect(refused).toEqual({ uid: 'C1A55101', readerName: SLOT0, verification: 'refused', refusal: { code: 'card-key-rejected', message: NOT_VERIFIED } });
  });

  it('a UID copied onto a magic card with another card\'s record: refused (MAC mismatch)', async () => {
    const genuine = new StorageCard({ uid: '04111111111111' });
    const record = issueMemberCard(genuine, '6200999988887777', CARD_KEY);
    const magic = new StorageCard({ uid: '04222222222222' });
    magic.writePages(4, record);
    const refused = await tap<CardTap>(magic);
    expect(refused).toEqual({ uid: '04222222222222', readerName: SLOT0, verification: 'refused', refusal: { code: 'not-verified', message: NOT_VERIFIED } });
  });

  it('a blank (never issued) card: identified by UID only, for the hub to call "not issued"', async () => {
    expect(await tap<CardTap>(new StorageCard({ uid: '04B1A4C0' }))).toEqual({ uid: '04B1A4C0', readerName: SLOT0, verification: 'uid-only' });
  });

  it('a card answering the record read with an error status: refused as unreadable', async () => {
    const ntag = new StorageCard({ uid: '04BAD5A0' });
    issueMemberCard(ntag, '6200000000000044', CARD_KEY);
    const damaged = withStatusWord(ntag, (apdu) => apdu[1] === 0xb0 && apdu[3] === 0x08, Buffer.from([0x65, 0x81]));
    expect(await tap<CardTap>(damaged)).toMatchObject({ verification: 'refused', refusal: { code: 'card-unreadable' } });
  });

  it('an ISO 14443-4 card with the chain AID: verified from its SELECT response', async () => {
    const app = new IsoDepCard({ aid: config.aid, uid: '04DE5F1234AB80' });
    issueMemberCard(app, '6200555566667777', CARD_KEY);
    expect(await tap<CardTap>(app)).toEqual({ uid: '04DE5F1234AB80', readerName: SLOT0, verification: 'verified', cardNumber: '6200555566667777' });
  });

  it('a phone (ISO 14443-4 without the chain AID): a friendly error event, no card event', async () => {
    const { events, done } = record(reader);
    const error = await tap<CardReaderError>(new IsoDepCard(), 'error');
    done();
    expect(error.message).toMatch(/ISO 14443-4 card .*not a member card/);
    expect(events.map(([name]) => name)).toEqual(['error', 'card-removed']);
  });

  it('a card lifted in the middle of the read: an error event, no card event with partial data', async () => {
    const ntag = new StorageCard({ uid: '04F1F2F3' });
    issueMemberCard(ntag, '6200000000000045', CARD_KEY);
    const { events, done } = record(reader);
    // GET DATA and the first READ BINARY are answered; the card is gone for the second.
    const error = await tap<CardReaderError>(ntag, 'error', { leaveAfterApdus: 2 });
    done();
    expect(error.message).toMatch(/taken away before it was read/);
    expect(events).toEqual([['error', error], ['card-removed', { uid: null, readerName: SLOT0 }]]);
    expect(reader.health().counters.readErrors).toBe(1);
  });
});

describe('pcscd going away and coming back', () => {
  it('reports the readers gone, then back, and reads cards again', async () => {
    const gone = nextEvent<ReaderInfo>(reader, 'reader-disconnected', (info) => info.readerName === SLOT0, { what: 'the reader to report vpcd gone with pcscd' });
    const errors: CardReaderError[] = [];
    reader.on('error', (error) => errors.push(error));
    await pcscd.stopDaemon();
    await gone;
    expect(reader.health()).toMatchObject({ present: false, ready: false, fault: { code: 'pcscd-lost' } });

    const back = nextEvent<ReaderInfo>(reader, 'reader-connected', (info) => info.readerName === SLOT0, { what: 'the reader to report vpcd back with the restarted pcscd' });
    await pcscd.startDaemon();
    await back;
    expect(reader.health()).toMatchObject({ present: true, ready: true, fault: null, counters: { reconnects: 1 } });
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/lost the PC\/SC daemon/)]);

    const ntag = new StorageCard({ uid: '04A0A0A0' });
    issueMemberCard(ntag, '6200000000000046', CARD_KEY);
    expect(await tap<CardTap>(ntag)).toMatchObject({ verification: 'verified', cardNumber: '6200000000000046' });
    expect(reader.health().counters).toMatchObject({ 'cards.verified': 5, 'cards.refused': 3, 'cards.uid-only': 1 });
    // Four event waits, a daemon stop (5 s grace) and a daemon start (its own readiness deadline).
  }, 4 * DEFAULT_DEADLINE_MS + 60_000);
});
