import type { Bilingual } from '../kiosk/messages.ts';
import type { PrinterFaultCode } from './printer-status.ts';

/** What the member is told when a voucher cannot be printed, by cause. */
export const printerFaultMessages: Record<PrinterFaultCode, Bilingual> = {
  'paper-end': { zh: '打印纸已用完，暂时无法打印，请联系店员', en: 'The printer is out of paper. Please ask staff.' },
  'cover-open': { zh: '打印机盖未关好，暂时无法打印，请联系店员', en: 'The printer cover is open. Please ask staff.' },
  offline: { zh: '打印机暂时无法使用，请联系店员', en: 'The printer is not ready. Please ask staff.' },
  unreachable: { zh: '无法连接打印机，请联系店员', en: 'The printer cannot be reached. Please ask staff.' },
};
