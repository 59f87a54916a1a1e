import { performance } from 'node:perf_hooks';
import { CctalkMaster } from '../../device/bill-validator/cctalk-master.ts';
import { Header, BILL_VALIDATOR_ADDRESS } from '../../device/bill-validator/cctalk-headers.ts';
import { CctalkValidatorEmulator } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair } from '../../device/emulators/serial-pty.ts';
import { summarize, type BenchRow } from './stats.ts';

/**
 * ccTalk request → reply round trip over a real tty pair (socat), as the kiosk's poll loop sees it: the
 * simple poll (254) and the buffered bill events read (159) it issues every poll interval. A pty has no
 * line rate, so this is the software's share; a real 9600-baud wire adds about 1 ms per byte (echo
 * included, some 10–15 ms per exchange).
 */
export async function benchCctalkPoll(requests = 200): Promise<BenchRow[]> {
  const cable = await openPtyPair();
  const emulator = await CctalkValidatorEmulator.open(cable.devicePath);
  const master = await CctalkMaster.open(cable.hostPath);
  const measure = async (header: number) => {
    const samples: number[] = [];
    for (let i = 0; i < requests; i++) {
      const start = performance.now();
      await master.request(BILL_VALIDATOR_ADDRESS, header);
      samples.push(performance.now() - start);
    }
    return summarize(samples);
  };
  try {
    return [
      { bench: 'cctalk over pty (no line delay)', metric: 'simple poll (254) round trip', unit: 'ms', summary: await measure(Header.simplePoll) },
      { bench: 'cctalk over pty (no line delay)', metric: 'read bill events (159) round trip', unit: 'ms', summary: await measure(Header.readBufferedBillEvents) },
    ];
  } finally {
    await master.close();
    await emulator.close();
    await cable.stop();
  }
}
