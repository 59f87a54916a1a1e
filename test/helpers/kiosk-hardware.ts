import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrinterEmulator, type TcpPrinterEmulator } from '../../device/emulators/escpos-printer.ts';
import { CctalkValidatorEmulator } from '../../device/emulators/cctalk-validator.ts';
import { openPtyPair, type PtyPair } from '../../device/emulators/serial-pty.ts';
import { startPcscd, type PcscdHandle } from './pcscd.ts';

/**
 * A kiosk's peripherals on this machine, each behind its real OS boundary: a private pcscd with the vpcd
 * reader, our ccTalk validator on a socat pty, the ESC/POS printer on TCP — plus a data directory.
 */
export interface EmulatedKioskHardware {
  pcscd: PcscdHandle;
  printer: TcpPrinterEmulator;
  serialCable: PtyPair;
  validator: CctalkValidatorEmulator;
  dataDir: string;
  /** The environment a kiosk process (device/main.ts) needs to use this hardware. */
  processEnv(deviceId: string, mqttUrl: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startEmulatedKioskHardware(): Promise<EmulatedKioskHardware> {
  const pcscd = await startPcscd();
  const printer = await startPrinterEmulator({ host: '127.0.0.1', port: 0 });
  const serialCable = await openPtyPair();
  const validator = await CctalkValidatorEmulator.open(serialCable.devicePath);
  const dataDir = await mkdtemp(join(tmpdir(), 'mk-kiosk-'));
  return {
    pcscd,
    printer,
    serialCable,
    validator,
    dataDir,
    processEnv: (deviceId, mqttUrl) => ({
      DEVICE_ID: deviceId,
      MQTT_URL: mqttUrl,
      KIOSK_DATA_DIR: dataDir,
      KIOSK_UI_PORT: '0',
      PRINTER_URL: `tcp://127.0.0.1:${printer.port}`,
      NFC_READER: 'pcsc',
      PCSCLITE_CSOCK_NAME: pcscd.socketPath,
      BILL_VALIDATOR_PATH: serialCable.hostPath,
      // No KIOSK_ACK_TIMEOUT_MS: the default (5 s, then backing off) puts a transaction whose ack was lost out
      // again well inside the tests' deadlines for a drain.
    }),
    async stop() {
      await validator.close();
      await serialCable.stop();
      await printer.close();
      await pcscd.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
