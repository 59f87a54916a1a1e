import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reader } from 'nfc-pcsc';
import { VirtualCard } from '../../device/emulators/vpcd-card.ts';
import { CardName, ISO_14443_4_ATR, IsoDepCard, StorageCard, storageCardAtr } from '../../device/emulators/card-models.ts';

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
    while (this.received.length < length) await new Promise<void>((resolve) => (this.wake = resolve));
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
    const closed = once(vpcd.socket, 'close');
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

  it('reports an unreachable vpcd as a rejected insert', async () => {
    const port = vpcd.port;
    await card.remove();
    await vpcd.close();
    await expect(card.insert(port)).rejects.toThrow(/cannot reach vpcd at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    vpcd = await FakeVpcd.start();
  });
});
