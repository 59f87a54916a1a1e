import fc from 'fast-check';
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeFrame, hex } from '../../device/bill-validator/cctalk-frame.ts';
import { Header } from '../../device/bill-validator/cctalk-headers.ts';
import { CctalkBusyError, CctalkMaster, CctalkNakError, CctalkTimeoutError } from '../../device/bill-validator/cctalk-master.ts';

const ack = (data: number[] = []): Buffer => encodeFrame({ dest: 1, src: 40, header: Header.reply, data });
let ports = 0;

/** A master on serialport's mock binding; `echo` reads every write back, like the shared ccTalk wire. */
async function mockMaster(options: { echo: boolean; timeoutMs?: number; retries?: number }) {
  const path = `/dev/cctalk-mock-${(ports += 1)}`;
  SerialPortMock.binding.createPort(path, { echo: options.echo, record: true });
  const port = new SerialPortMock({ path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  const master = new CctalkMaster(port, { timeoutMs: options.timeoutMs ?? 100, retries: options.retries ?? 2, busyDelayMs: 5 });
  let seen = 0;
  /** Waits for the master's next request on the wire, then answers it with `bytes`. */
  const answer = async (bytes: Buffer): Promise<Buffer> => {
    await vi.waitFor(() => expect(port.port!.recording.length).toBeGreaterThan(seen), { interval: 1 });
    const written = port.port!.recording.subarray(seen);
    seen = port.port!.recording.length;
    port.port!.emitData(bytes);
    return written;
  };
  return { master, answer };
}

afterEach(() => SerialPortMock.binding.reset());

describe('ccTalk master', () => {
  it.each([true, false])('sends the exact request and matches the reply (bus echo: %s)', async (echo) => {
    const { master, answer } = await mockMaster({ echo });
    const reply = master.request(40, Header.simplePoll);
    expect(hex(await answer(ack()))).toBe('28 00 01 FE D9');
    await expect(reply).resolves.toEqual(Buffer.alloc(0));
    const category = master.request(40, Header.equipmentCategory);
    expect(hex(await answer(ack([...Buffer.from('Bill Validator')])))).toBe('28 00 01 F5 E2');
    expect((await category).toString()).toBe('Bill Validator');
    await master.close();
  });

  it('treats a bad checksum as no reply and asks again', async () => {
    const { master, answer } = await mockMaster({ echo: true });
    const reply = master.request(40, Header.readBufferedBillEvents);
    const corrupted = ack([3]);
    corrupted[corrupted.length - 1]! ^= 0x01;
    await answer(corrupted);
    await answer(ack([3]));
    await expect(reply).resolves.toEqual(Buffer.from([3]));
    expect(master.counters).toMatchObject({ retries: 1, badFrames: 1 });
    await master.close();
  });

  it('retries BUSY, gives up on NAK at once, and names header and address on timeout', async () => {
    const { master, answer } = await mockMaster({ echo: false, timeoutMs: 30, retries: 1 });
    const busy = encodeFrame({ dest: 1, src: 40, header: Header.busy });
    const afterBusy = master.request(40, Header.simplePoll);
    await answer(busy);
    await answer(ack());
    await expect(afterBusy).resolves.toEqual(Buffer.alloc(0));

    const stillBusy = master.request(40, Header.simplePoll);
    await answer(busy);
    await answer(busy);
    await expect(stillBusy).rejects.toBeInstanceOf(CctalkBusyError);

    const nak = master.request(40, 153, [1]);
    await answer(encodeFrame({ dest: 1, src: 40, header: Header.nak }));
    await expect(nak).rejects.toBeInstanceOf(CctalkNakError);

    const silent = master.request(40, Header.readBufferedBillEvents);
    await expect(silent).rejects.toBeInstanceOf(CctalkTimeoutError);
    await expect(silent).rejects.toThrow('no valid reply from ccTalk address 40 to header 159 (readBufferedBillEvents) after 2 attempts of 30 ms');
    await master.close();
  });

  it('ignores replies from another address, and a reply that follows the echo of an earlier request', async () => {
    const { master, answer } = await mockMaster({ echo: false });
    const reply = master.request(40, Header.productCode);
    // What a process that died mid-poll left on the line: its request's echo and the answer to it.
    const staleEcho = encodeFrame({ dest: 40, src: 1, header: Header.readBufferedBillEvents });
    const ownEcho = encodeFrame({ dest: 40, src: 1, header: Header.productCode });
    const fromCoinAcceptor = encodeFrame({ dest: 1, src: 2, header: 0, data: [0x58] });
    await answer(Buffer.concat([staleEcho, ack([0x45]), ownEcho, fromCoinAcceptor, ack([0x42])]));
    await expect(reply).resolves.toEqual(Buffer.from([0x42]));
    await master.close();
  });

  it('on random bytes on the wire, resolves only with a well-formed reply that is really on the wire', async () => {
    const arbitraryStream = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 11 }), fc.uint8Array({ maxLength: 8 })).map(([before, data, after]) =>
        Buffer.concat([before, ack([...data]), after]),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arbitraryStream, async (stream) => {
        const { master, answer } = await mockMaster({ echo: true, timeoutMs: 15, retries: 0 });
        const reply = master.request(40, Header.readBufferedBillEvents).then(
          (data) => ({ data }),
          (error: unknown) => ({ error }),
        );
        await answer(stream);
        const outcome = await reply;
        if ('data' in outcome) expect(stream.includes(ack([...outcome.data]))).toBe(true);
        else expect(outcome.error).toBeInstanceOf(Error);
        await master.close();
        SerialPortMock.binding.reset();
      }),
      { numRuns: 60 },
    );
  });
});
