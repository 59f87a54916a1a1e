import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reader } from 'nfc-pcsc';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import {
  CardName, ISO_14443_4_ATR, IsoDepCard, MifareClassicCard, StorageCard, storageCardAtr, withStatusWord,
} from '../../device/emulators/card-models.ts';
import { issueMemberCard } from '../../device/emulators/member-card-issuing.ts';
import { Apdu } from '../../device/nfc/apdu.ts';
import { verifyCardRecord } from '../../shared/card-data.ts';
import { DEFAULT_DEADLINE_MS, nextEventArgs, withDeadline } from '../helpers/events.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');

describe('card ATRs (PC/SC part 3)', () => {
  it('computes TCK for the storage-card names in the reference', () => {
    expect(storageCardAtr(CardName.mifareClassic1k)).toEqual(hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A'));
    expect(storageCardAtr(CardName.mifareClassic4k).at(-1)).toBe(0x69);
    expect(storageCardAtr(CardName.ultralight).at(-1)).toBe(0x68);
  });

  it('is what nfc-pcsc classifies: 0x4F at byte 5 = storage card, the bare ISO 14443-4 ATR = not', () => {
    expect(storageCardAtr(CardName.ultralight)[5]).toBe(0x4f);
    expect(Reader.selectStandardByAtr(storageCardAtr(CardName.ultralight))).toBe('TAG_ISO_14443_3');
    expect(ISO_14443_4_ATR).toEqual(hex('3B 80 80 01 01'));
    expect(Reader.selectStandardByAtr(ISO_14443_4_ATR)).toBe('TAG_ISO_14443_4');
  });
});

describe('StorageCard APDUs', () => {
  const pages = [hex('04112233'), hex('44556677'), hex('DEADBEEF'), hex('CAFEF00D')];
  const card = new StorageCard({ uid: '04:11:22:33:44:55:66', pages });

  it.each([
    ['GET DATA (UID)', 'FF CA 00 00 00', '04 11 22 33 44 55 66 90 00'],
    ['GET DATA (ATS): not supported', 'FF CA 01 00 00', '6A 81'],
    ['READ BINARY page 2, 8 bytes', 'FF B0 00 02 08', 'DE AD BE EF CA FE F0 0D 90 00'],
    ['READ BINARY past the end', 'FF B0 00 03 08', '6A 82'],
    ['READ BINARY beyond the page range (P1)', 'FF B0 01 00 04', '6A 82'],
    ['READ BINARY without Le', 'FF B0 00 00', '67 00'],
    ['unknown pseudo-APDU', 'FF 00 48 00 00', '6D 00'],
    ['ISO SELECT', '00 A4 04 00 07 D2 76 00 00 85 01 01 00', '6D 00'],
    ['too short to be an APDU', 'FF CA', '67 00'],
  ])('%s', (_name, apdu, response) => {
    expect(card.respond(hex(apdu))).toEqual(hex(response));
  });

  it('rejects pages that are not 4 bytes and UIDs that are not 4, 7 or 10 bytes', () => {
    expect(() => new StorageCard({ uid: '04112233', pages: [hex('0102')] })).toThrow(/page 0 must be 4 bytes/);
    expect(() => new StorageCard({ uid: '0411' })).toThrow(/4, 7 or 10 bytes/);
  });
});

describe('MifareClassicCard APDUs', () => {
  const sectorKey = hex('A0A1A2A3A4A5');
  const keyB = hex('B0B1B2B3B4B5');
  const respond = (card: MifareClassicCard, apdu: string) => card.respond(hex(apdu)).toString('hex').toUpperCase();
  const classic = () => {
    const card = new MifareClassicCard({ uid: 'C1A55100', sectorKeys: { 1: { a: sectorKey, b: keyB } } });
    card.writeBlocks(4, Buffer.alloc(32, 0x77));
    return card;
  };

  it('presents the Classic 1K ATR and its 4-byte UID', () => {
    const card = classic();
    expect(card.atr).toEqual(storageCardAtr(CardName.mifareClassic1k));
    expect(respond(card, 'FF CA 00 00 00')).toBe('C1A551009000');
  });

  it('reads a sector only after authenticating it with the right key A or B', () => {
    const card = classic();
    expect(respond(card, 'FF B0 00 04 10')).toBe('6982');
    expect(respond(card, 'FF 82 00 00 06 A0A1A2A3A4A5')).toBe('9000');
    expect(respond(card, 'FF 86 00 00 05 01 00 04 60 00')).toBe('9000');
    expect(respond(card, 'FF B0 00 05 10')).toBe(`${'77'.repeat(16)}9000`);
    // The trailer reads back with key A hidden; another sector stays closed.
    expect(respond(card, 'FF B0 00 07 10')).toBe(`000000000000FF078069B0B1B2B3B4B59000`);
    expect(respond(card, 'FF B0 00 08 10')).toBe('6982');
    expect(respond(card, 'FF 82 00 01 06 B0B1B2B3B4B5')).toBe('9000');
    expect(respond(card, 'FF 86 00 00 05 01 00 06 61 01')).toBe('9000');
    expect(respond(card, 'FF B0 00 04 10')).toBe(`${'77'.repeat(16)}9000`);
  });

  it('answers a wrong key, an empty key slot or a bad LOAD KEYS with 63 00 and drops authentication', () => {
    const card = classic();
    card.respond(Apdu.loadKey(0, sectorKey));
    card.respond(Apdu.authenticate(4, 'A', 0));
    expect(respond(card, 'FF 82 00 01 06 FFFFFFFFFFFF')).toBe('9000');
    expect(respond(card, 'FF 86 00 00 05 01 00 04 60 01')).toBe('6300');
    expect(respond(card, 'FF B0 00 04 10')).toBe('6982');
    expect(respond(card, 'FF 86 00 00 05 01 00 04 61 00')).toBe('6300');
    expect(respond(new MifareClassicCard({ uid: 'C1A55100' }), 'FF 86 00 00 05 01 00 04 60 00')).toBe('6300');
    expect(respond(card, 'FF 82 00 02 06 FFFFFFFFFFFF')).toBe('6300');
    expect(respond(card, 'FF 82 00 00 04 FFFFFFFF')).toBe('6300');
  });

  it('forgets keys and authentication on reset (card left the field)', () => {
    const card = classic();
    card.respond(Apdu.loadKey(0, sectorKey));
    card.respond(Apdu.authenticate(4, 'A', 0));
    card.reset();
    expect(respond(card, 'FF B0 00 04 10')).toBe('6982');
    expect(respond(card, 'FF 86 00 00 05 01 00 04 60 00')).toBe('6300');
  });

  it('refuses odd reads and writes over the manufacturer block or trailers', () => {
    const card = classic();
    expect(respond(card, 'FF B0 00 04 04')).toBe('6700');
    expect(respond(card, 'FF B0 00 40 10')).toBe('6A82');
    expect(() => card.writeBlocks(0, Buffer.alloc(16))).toThrow(/not whole data blocks/);
    expect(() => card.writeBlocks(6, Buffer.alloc(32))).toThrow(/not whole data blocks/);
    expect(() => card.writeBlocks(4, Buffer.alloc(8))).toThrow(/not whole data blocks/);
    expect(() => new MifareClassicCard({ uid: '04112233445566' })).toThrow(/4 bytes/);
  });
});

describe('IsoDepCard with an application', () => {
  const aid = hex('F04D454D424552');

  it('answers SELECT of its AID with its data and 90 00, any other AID with 6A 82', () => {
    const card = new IsoDepCard({ aid, uid: '04DE5F1234AB80', selectResponse: hex('CAFE') });
    expect(card.respond(Apdu.select(aid))).toEqual(hex('CAFE 9000'));
    expect(card.respond(Apdu.select(hex('A0000000031010')))).toEqual(hex('6A82'));
    expect(card.respond(Apdu.getUid())).toEqual(hex('04DE5F1234AB80 9000'));
    expect(card.respond(hex('00B0000000'))).toEqual(hex('6D00'));
  });
});

describe('issueMemberCard', () => {
  const key = Buffer.alloc(32, 9);

  it('writes a record the UID verifies, where the kiosk reads it on each card type', () => {
    const ntag = new StorageCard({ uid: '04112233445566' });
    const record = issueMemberCard(ntag, '6200000000000001', key);
    expect(Buffer.concat([ntag.respond(Apdu.readBinary(4, 16)), ntag.respond(Apdu.readBinary(8, 16))])).toEqual(
      Buffer.concat([record.subarray(0, 16), hex('9000'), record.subarray(16), hex('9000')]));
    expect(verifyCardRecord('04112233445566', record, key)).toEqual({ ok: true, cardNumber: '6200000000000001' });

    const app = new IsoDepCard({ aid: hex('F0'), uid: '04DE5F1234AB80' });
    const appRecord = issueMemberCard(app, '6200000000000002', key);
    expect(app.respond(Apdu.select(hex('F0')))).toEqual(Buffer.concat([appRecord, hex('9000')]));
  });

  it('refuses writes past the end of an NTAG', () => {
    expect(() => new StorageCard({ uid: '04112233' }).writePages(12, Buffer.alloc(32))).toThrow(/cannot write 32 bytes from page 12/);
  });
});

describe('withStatusWord', () => {
  it('answers the chosen APDUs with the status word and passes the rest through', () => {
    const card = withStatusWord(new StorageCard({ uid: '04112233' }), (apdu) => apdu[1] === 0xb0, hex('6581'));
    expect(card.respond(Apdu.readBinary(4, 16))).toEqual(hex('6581'));
    expect(card.respond(Apdu.getUid())).toEqual(hex('04112233 9000'));
  });
});

/** Plays vpcd's side of the socket at byte level. */
class FakeVpcd {
  private received = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  socket!: Socket;

  constructor(readonly server: Server) {}

  static async start(): Promise<FakeVpcd> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeVpcd(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async accept(): Promise<void> {
    [this.socket] = (await once(this.server, 'connection')) as [Socket];
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake?.();
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next `length` raw bytes from the card. */
  async read(length: number): Promise<Buffer> {
    const deadline = Date.now() + DEFAULT_DEADLINE_MS;
    while (this.received.length < length) {
      const arrived = new Promise<void>((resolve) => (this.wake = resolve));
      await withDeadline(arrived, Math.max(0, deadline - Date.now()), `${length} bytes from the card (got ${this.received.length})`);
    }
    const bytes = this.received.subarray(0, length);
    this.received = this.received.subarray(length);
    return bytes;
  }

  get unread(): number {
    return this.received.length;
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('VirtualCard on the vpcd socket', () => {
  let vpcd: FakeVpcd;
  let card: VirtualCard;
  const uid = '04A22B1C';
  const atrFrame = Buffer.concat([hex('00 14'), storageCardAtr(CardName.ultralight)]);

  beforeEach(async () => {
    vpcd = await FakeVpcd.start();
    card = new VirtualCard({ uid });
    const accepted = vpcd.accept();
    await card.insert(vpcd.port);
    await accepted;
  });

  afterEach(async () => {
    await card.remove();
    await vpcd.close();
  });

  it('answers "get ATR" with the ATR, framed with a big-endian length', async () => {
    vpcd.send(hex('00 01 04'));
    expect(await vpcd.read(atrFrame.length)).toEqual(atrFrame);
  });

  it('answers APDUs with response + SW, and nothing to power on/off/reset', async () => {
    vpcd.send(hex('0001 01   0001 00   0001 02   0005 FFCA000000'));
    // Control messages have no reply, so the first bytes back are the APDU's response.
    expect(await vpcd.read(8)).toEqual(hex('0006 04A22B1C 9000'));
  });

  it('reassembles frames split across writes and separates frames that share one', async () => {
    const bytes = hex('0005 FFCA000000 0001 04');
    for (const byte of bytes) vpcd.send(Buffer.from([byte]));
    expect(await vpcd.read(8)).toEqual(hex('0006 04A22B1C 9000'));
    expect(await vpcd.read(atrFrame.length)).toEqual(atrFrame);
  });

  it('survives garbage: empty frames, unknown controls, short and unknown APDUs', async () => {
    vpcd.send(hex('0000   0001 99   0002 FFCA   0004 12345678   0001 04'));
    expect(await vpcd.read(4)).toEqual(hex('0002 6700'));
    expect(await vpcd.read(4)).toEqual(hex('0002 6D00'));
    expect(await vpcd.read(atrFrame.length)).toEqual(atrFrame);
    expect(vpcd.unread).toBe(0);
  });

  it('survives the reader going away mid-frame, and can be placed again', async () => {
    vpcd.send(hex('0010 FFCA'));
    await vpcd.close();
    await card.remove();
    expect(card.inserted).toBe(false);

    vpcd = await FakeVpcd.start();
    const accepted = vpcd.accept();
    await card.insert(vpcd.port);
    await accepted;
    vpcd.send(hex('0001 04'));
    expect(await vpcd.read(atrFrame.length)).toEqual(atrFrame);
  });

  it('closing the socket is the removal vpcd sees', async () => {
    const closed = nextEventArgs(vpcd.socket, 'close', { what: 'the card to close its vpcd connection' });
    await card.remove();
    await closed;
    expect(card.inserted).toBe(false);
  });

  it('an ISO 14443-4 card (phone) presents its ATR and refuses SELECT', async () => {
    const phoneVpcd = await FakeVpcd.start();
    const phone = new VirtualCard(new IsoDepCard());
    const accepted = phoneVpcd.accept();
    await phone.insert(phoneVpcd.port);
    await accepted;
    phoneVpcd.send(hex('0001 04  000C 00A4040007D276000085010100'));
    expect(await phoneVpcd.read(7)).toEqual(hex('0005 3B80800101'));
    expect(await phoneVpcd.read(4)).toEqual(hex('0002 6A82'));
    await phone.remove();
    await phoneVpcd.close();
  });

  it('leaves the reader after answering leaveAfterApdus APDUs: the next one finds no card', async () => {
    await card.remove();
    card = new VirtualCard({ uid }, { leaveAfterApdus: 1 });
    const accepted = vpcd.accept();
    await card.insert(vpcd.port);
    await accepted;
    const closed = nextEventArgs(vpcd.socket, 'close', { what: 'the card to close its vpcd connection' });
    vpcd.send(hex('0005 FFCA000000  0001 04  0005 FFCA000000'));
    expect(await vpcd.read(8)).toEqual(hex('0006 04A22B1C 9000'));
    expect(await vpcd.read(atrFrame.length)).toEqual(atrFrame);
    await closed;
    expect(card.inserted).toBe(false);
  });

  it('resets the card model on power on, as a real power cycle does', async () => {
    const classic = new MifareClassicCard({ uid: 'C1A55100' });
    classic.respond(Apdu.loadKey(0, hex('FFFFFFFFFFFF')));
    expect(classic.respond(Apdu.authenticate(4, 'A', 0))).toEqual(hex('9000'));
    await card.remove();
    card = new VirtualCard(classic);
    const accepted = vpcd.accept();
    await card.insert(vpcd.port);
    await accepted;
    vpcd.send(hex('0001 01  0005 FFB0000410'));
    expect(await vpcd.read(4)).toEqual(hex('0002 6982'));
  });

  it('reports an unreachable vpcd as a rejected insert', async () => {
    const port = vpcd.port;
    await card.remove();
    await vpcd.close();
    await expect(card.insert(port)).rejects.toThrow(/cannot reach vpcd at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    vpcd = await FakeVpcd.start();
  });
});
