import { close, fdatasync, fstat, ftruncate, open, write } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { writeFileAtomically } from './atomic-write.ts';
import { CorruptDataFileError } from './errors.ts';

/**
 * An append-only file of JSON records, one a line: the CRC-32 of the JSON as 8 hex digits, a space, the JSON,
 * and '\n'. Text, so a technician can read it with `less`; JSON never holds a raw newline, so '\n' ends a record.
 *
 * Why this framing tells a torn write from damage: records are appended one at a time, each made durable
 * (fdatasync) before the next, so a power cut can only tear the LAST one — its bytes partly written, zeros
 * where blocks never reached the disk, but never a '\n' of its own before its end. A torn record is therefore
 * always the final line, complete or not. A bad line anywhere before that cannot come from a crash: it is
 * damage, and the file is refused.
 */
const NEWLINE = 0x0a;
const CRC_DIGITS = 8;

export function encodeRecord(record: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const crc = crc32(json).toString(16).padStart(CRC_DIGITS, '0');
  return Buffer.concat([Buffer.from(`${crc} `, 'ascii'), json, Buffer.from('\n', 'ascii')]);
}

export interface JournalContents {
  records: unknown[];
  /** Length of the complete records; anything after it is a torn tail. */
  validLength: number;
  /** Bytes after the last complete record (0 when the file ends cleanly). */
  tornBytes: number;
}

/** Why a complete line is not a record, or undefined when it is one (then `parsed` holds it). */
function lineProblem(line: Buffer, parsed: { value?: unknown }): string | undefined {
  if (line.length < CRC_DIGITS + 2 || line[CRC_DIGITS] !== 0x20) return 'is not a checksummed record';
  const json = line.subarray(CRC_DIGITS + 1);
  const stored = line.subarray(0, CRC_DIGITS).toString('ascii');
  if (!/^[0-9a-f]{8}$/.test(stored) || Number.parseInt(stored, 16) !== crc32(json)) return 'fails its checksum';
  try {
    parsed.value = JSON.parse(json.toString('utf8'));
  } catch {
    return 'is not valid JSON';
  }
  return undefined;
}

/** Splits a journal's bytes into records; a damaged line before the last one is a CorruptDataFileError. */
export function parseJournal(file: string, bytes: Buffer): JournalContents {
  const records: unknown[] = [];
  let start = 0;
  for (let lineNumber = 1; ; lineNumber++) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end === -1) break; // an unterminated last line: torn
    const parsed: { value?: unknown } = {};
    const problem = lineProblem(bytes.subarray(start, end), parsed);
    if (problem !== undefined) {
      if (end === bytes.length - 1) break; // the last line, torn mid-way through its bytes
      throw new CorruptDataFileError(file, `line ${lineNumber} ${problem}`);
    }
    records.push(parsed.value);
    start = end + 1;
  }
  return { records, validLength: start, tornBytes: bytes.length - start };
}

/** Reads and parses a journal; undefined when the file does not exist. */
export async function readJournal(file: string): Promise<JournalContents | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseJournal(file, bytes);
}

// A plain descriptor rather than a FileHandle: a store that is never closed (it lives as long as the kiosk
// process; tests open many) must not have its descriptor closed under it by the garbage collector.
const fs = {
  open: promisify(open),
  write: promisify(write),
  datasync: promisify(fdatasync),
  truncate: promisify(ftruncate),
  stat: promisify(fstat),
  close: promisify(close),
};

/**
 * The open end of a journal. `append` is one positional write + fdatasync; callers serialize appends.
 * A failed append is cut off again, so the file keeps its shape "complete records, then at most a torn tail".
 */
export class JournalWriter {
  private failure: Error | undefined;

  private constructor(
    private readonly file: string,
    private fd: number,
    private length: number,
  ) {}

  /** Opens for appending after `validLength` bytes, cutting off (durably) a torn tail beyond them. */
  static async open(file: string, validLength: number): Promise<JournalWriter> {
    const fd = await fs.open(file, 'r+');
    try {
      if ((await fs.stat(fd)).size !== validLength) {
        await fs.truncate(fd, validLength);
        await fs.datasync(fd);
      }
    } catch (error) {
      await fs.close(fd);
      throw error;
    }
    return new JournalWriter(file, fd, validLength);
  }

  /** Writes a new journal holding exactly `records`, atomically, and returns its writer. */
  static async create(file: string, records: unknown[]): Promise<JournalWriter> {
    const bytes = Buffer.concat(records.map(encodeRecord));
    await writeFileAtomically(file, bytes);
    return JournalWriter.open(file, bytes.length);
  }

  async append(record: unknown): Promise<void> {
    if (this.failure) throw new Error(`kiosk journal ${this.file} is not writable after an earlier failure`, { cause: this.failure });
    const bytes = encodeRecord(record);
    try {
      const { bytesWritten } = await fs.write(this.fd, bytes, 0, bytes.length, this.length);
      if (bytesWritten !== bytes.length) throw new Error(`short write to ${this.file}: ${bytesWritten} of ${bytes.length} bytes`);
      await fs.datasync(this.fd);
    } catch (error) {
      await fs.truncate(this.fd, this.length).catch((truncateError: Error) => {
        // Appending after a half-written record would make it look like damage; stop writing instead.
        this.failure = truncateError;
      });
      throw error;
    }
    this.length += bytes.length;
  }

  /** Replaces the whole journal with `records` (compaction): the new file is complete before it takes over. */
  async replaceWith(records: unknown[]): Promise<void> {
    const replacement = await JournalWriter.create(this.file, records);
    await fs.close(this.fd);
    this.fd = replacement.fd;
    this.length = replacement.length;
  }

  close(): Promise<void> {
    return fs.close(this.fd);
  }
}
