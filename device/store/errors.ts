/**
 * The two ways a kiosk data file can be unusable. Both name the file and promise it was left as it was: the
 * kiosk refuses to start rather than guess, so a technician can inspect (and rescue) unsent transactions.
 */
const LEFT_FOR_TECHNICIAN = 'it was left untouched for a technician to inspect (数据文件已原样保留，请技术人员检查)';

/** The file cannot be read as what it should be: not JSON, not a database, a damaged journal line. */
export class CorruptDataFileError extends Error {
  constructor(file: string, problem: string, cause?: unknown) {
    super(`kiosk data file ${file} ${problem}; ${LEFT_FOR_TECHNICIAN}`, { cause });
    this.name = 'CorruptDataFileError';
  }
}

/** The file reads fine but what it holds does not have the expected shape. */
export class InvalidKioskDataError extends Error {
  constructor(file: string, reason: string) {
    super(`kiosk data file ${file} does not have the expected shape (${reason}); ${LEFT_FOR_TECHNICIAN}`);
    this.name = 'InvalidKioskDataError';
  }
}
