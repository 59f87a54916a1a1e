/**
 * ESC/POS real-time status (DLE EOT n). Each request is answered with one byte in which bit 1 and bit 4
 * are always set and bits 0 and 7 always clear, which is how a status byte is told from other data.
 */
export const StatusRequest = { printer: 1, offlineCause: 2, paperSensor: 4 } as const;
export type StatusRequest = (typeof StatusRequest)[keyof typeof StatusRequest];

export function statusRequestBytes(n: StatusRequest): Buffer {
  return Buffer.from([0x10, 0x04, n]);
}

export function isStatusByte(byte: number): boolean {
  return (byte & 0x93) === 0x12;
}

export interface PrinterStatus {
  online: boolean;
  coverOpen: boolean;
  paperEnd: boolean;
  paperNearEnd: boolean;
}

/** Decodes the answers to DLE EOT 1, 2 and 4. */
export function decodePrinterStatus(printer: number, offlineCause: number, paperSensor: number): PrinterStatus {
  return {
    online: (printer & 0x08) === 0,
    coverOpen: (offlineCause & 0x04) !== 0,
    paperEnd: (offlineCause & 0x20) !== 0 || (paperSensor & 0x60) === 0x60,
    paperNearEnd: (paperSensor & 0x0c) === 0x0c,
  };
}

/** Why a printer cannot print; 'unreachable' when the kiosk cannot even ask. */
export type PrinterFaultCode = 'paper-end' | 'cover-open' | 'offline' | 'unreachable';

/** Everything the status says stops printing, most actionable first; empty when it can print. */
export function printerFaults(status: PrinterStatus): PrinterFaultCode[] {
  const faults: PrinterFaultCode[] = [];
  if (status.paperEnd) faults.push('paper-end');
  if (status.coverOpen) faults.push('cover-open');
  // Paper end and an open cover also take the printer offline; "offline" alone means some other cause.
  if (!status.online && faults.length === 0) faults.push('offline');
  return faults;
}

const FAULT_WORDS: Record<PrinterFaultCode, string> = {
  'paper-end': 'out of paper',
  'cover-open': 'cover open',
  offline: 'offline',
  unreachable: 'not reachable',
};

/** A fault in plain words, for logs, errors and technicians. */
export function describeFault(code: PrinterFaultCode): string {
  return FAULT_WORDS[code];
}
