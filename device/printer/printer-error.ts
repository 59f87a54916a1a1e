export type PrinterErrorCode = 'unreachable' | 'no-response' | 'bad-response' | 'not-ready' | 'link-failed';

/** Every printer failure the kiosk can see, with a code to act on and a message a technician can read. */
export class PrinterError extends Error {
  constructor(
    readonly code: PrinterErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PrinterError';
  }
}
