import iconv from 'iconv-lite';

const LF = 0x0a;
const DLE = 0x10;
const EOT = 0x04;
const ESC = 0x1b;
const FS = 0x1c;
const GS = 0x1d;

/**
 * Argument byte counts of the fixed-length commands a receipt printer accepts (Epson ESC/POS, plus the
 * ESC 4 / ESC 5 italic switches the escpos package sends). Commands with their own handling are below.
 */
const FIXED_ARGS: Record<number, Record<number, number>> = {
  [ESC]: {
    0x20: 1, 0x21: 1, 0x2d: 1, 0x32: 0, 0x33: 1, 0x34: 0, 0x35: 0, 0x3d: 1, 0x40: 0, 0x45: 1,
    0x47: 1, 0x4a: 1, 0x4d: 1, 0x52: 1, 0x56: 1, 0x61: 1, 0x64: 1, 0x70: 3, 0x74: 1, 0x7b: 1,
  },
  [GS]: { 0x21: 1, 0x42: 1, 0x48: 1, 0x61: 1, 0x66: 1, 0x68: 1, 0x77: 1 },
  [FS]: { 0x21: 1, 0x26: 0, 0x2e: 0 },
};

/** GS V m: these m values take a feed amount byte after them. */
const CUT_WITH_FEED = new Set([0x41, 0x42, 0x61, 0x62, 0x67, 0x68]);

/** Print mode in force when a line was printed: enough to draw the slip roughly as the printer would. */
export interface LineStyle {
  align: 'left' | 'center' | 'right';
  bold: boolean;
  /** Character magnification, 1–8. */
  width: number;
  height: number;
}

export type PrintedLine = ({ kind: 'text'; text: string } & LineStyle) | { kind: 'qr'; data: string; align: LineStyle['align'] };

/** One cut-off slip. `truncated`: the paper ran out while it was printing, so lines are missing. */
export interface PrintedJob {
  text: string;
  lines: PrintedLine[];
  truncated: boolean;
}

export type EscPosEvent = ({ type: 'receipt' } & PrintedJob) | { type: 'status-request'; n: number };

export interface EscPosParserOptions {
  /** Takes one line's worth of paper; false when there is none left, and the line is not printed. */
  takePaper?: () => boolean;
}

const PLAIN: LineStyle = { align: 'left', bold: false, width: 1, height: 1 };
const ALIGNMENTS: Record<number, LineStyle['align']> = { 0: 'left', 1: 'center', 2: 'right', 0x30: 'left', 0x31: 'center', 0x32: 'right' };

/** How a printed line reads as text: QR codes as "[QR:data]". */
export function lineText(line: PrintedLine): string {
  return line.kind === 'qr' ? `[QR:${line.data}]` : line.text;
}

/**
 * Turns an ESC/POS byte stream back into printed slips: one job per cut, its text the lines joined with
 * "\n", with the print mode of each line. Text is GB18030. Bytes may arrive in any chunking; garbage is
 * skipped.
 */
export class EscPosParser {
  private pending = Buffer.alloc(0);
  private lineBytes: Buffer[] = [];
  private lines: PrintedLine[] = [];
  private qrData = '';
  private style: LineStyle = { ...PLAIN };
  private truncated = false;

  constructor(private readonly options: EscPosParserOptions = {}) {}

  push(chunk: Buffer): EscPosEvent[] {
    const data = Buffer.concat([this.pending, chunk]);
    const events: EscPosEvent[] = [];
    let offset = 0;
    while (offset < data.length) {
      const used = this.step(data, offset, events);
      if (used === 0) break; // an incomplete command: wait for more bytes
      offset += used;
    }
    this.pending = data.subarray(offset);
    return events;
  }

  /** Consumes one command or text run at `at`; returns how many bytes, 0 if more are needed. */
  private step(data: Buffer, at: number, events: EscPosEvent[]): number {
    const byte = data[at]!;
    if (byte === LF) {
      this.endLine();
      return 1;
    }
    if (byte === DLE) return this.realTime(data, at, events);
    if (byte === ESC || byte === FS || byte === GS) return this.command(data, at, events);
    if (byte < 0x20) return 1; // CR, HT and other controls print nothing here
    let end = at;
    while (end < data.length && data[end]! >= 0x20) end++;
    this.lineBytes.push(data.subarray(at, end));
    return end - at;
  }

  private realTime(data: Buffer, at: number, events: EscPosEvent[]): number {
    if (at + 1 >= data.length) return 0;
    if (data[at + 1] !== EOT) return 1;
    if (at + 2 >= data.length) return 0;
    events.push({ type: 'status-request', n: data[at + 2]! });
    return 3;
  }

  private command(data: Buffer, at: number, events: EscPosEvent[]): number {
    if (at + 1 >= data.length) return 0;
    const prefix = data[at]!;
    const code = data[at + 1]!;
    if (prefix === GS && code === 0x28) return this.extended(data, at);
    if (prefix === GS && code === 0x56) return this.cut(data, at, events);
    const args = FIXED_ARGS[prefix]?.[code];
    if (args === undefined) return 2; // unknown: drop prefix and code, keep going
    if (at + 2 + args > data.length) return 0;
    this.apply(prefix, code, data[at + 2] ?? 0);
    return 2 + args;
  }

  /** The commands that change what is printed or how; the rest only need skipping. */
  private apply(prefix: number, code: number, arg: number): void {
    if (prefix === ESC && code === 0x40) {
      this.lineBytes = []; // ESC @ clears the unprinted line and the print mode
      this.style = { ...PLAIN };
    } else if (prefix === ESC && code === 0x64) this.feed(arg);
    else if (prefix === ESC && code === 0x61) this.style.align = ALIGNMENTS[arg] ?? this.style.align;
    else if (prefix === ESC && code === 0x45) this.style.bold = (arg & 1) === 1;
    else if (prefix === ESC && code === 0x21) {
      this.style = { ...this.style, bold: (arg & 0x08) !== 0, height: arg & 0x10 ? 2 : 1, width: arg & 0x20 ? 2 : 1 };
    } else if (prefix === GS && code === 0x21) {
      this.style = { ...this.style, width: Math.min((arg >> 4) + 1, 8), height: Math.min((arg & 0x0f) + 1, 8) };
    }
  }

  /** GS ( k pL pH cn fn …: a length-prefixed function; QR store (cn 0x31, fn 0x50) and print (0x51) matter. */
  private extended(data: Buffer, at: number): number {
    if (at + 5 > data.length) return 0;
    const length = data[at + 3]! + 256 * data[at + 4]!;
    const total = 5 + length;
    if (at + total > data.length) return 0;
    const [kind, cn, fn] = [data[at + 2], data[at + 5], data[at + 6]];
    if (kind === 0x6b && cn === 0x31 && fn === 0x50 && length >= 3) {
      this.qrData = data.subarray(at + 8, at + total).toString('utf8');
    } else if (kind === 0x6b && cn === 0x31 && fn === 0x51) {
      this.flushLine();
      this.print({ kind: 'qr', data: this.qrData, align: this.style.align });
    }
    return total;
  }

  private cut(data: Buffer, at: number, events: EscPosEvent[]): number {
    if (at + 3 > data.length) return 0;
    const length = CUT_WITH_FEED.has(data[at + 2]!) ? 4 : 3;
    if (at + length > data.length) return 0;
    this.flushLine();
    while (this.lines.at(-1)?.kind === 'text' && lineText(this.lines.at(-1)!) === '') this.lines.pop();
    if (this.lines.length > 0) {
      events.push({ type: 'receipt', text: this.lines.map(lineText).join('\n'), lines: this.lines, truncated: this.truncated });
    }
    this.lines = [];
    this.truncated = false;
    return length;
  }

  /** ESC d n: print the line buffer and feed n lines, i.e. n line feeds (at least one if text is waiting). */
  private feed(lines: number): void {
    const feeds = Math.max(lines, this.lineBytes.length > 0 ? 1 : 0);
    for (let i = 0; i < feeds; i++) this.endLine();
  }

  private endLine(): void {
    this.print({ kind: 'text', text: iconv.decode(Buffer.concat(this.lineBytes), 'gb18030'), ...this.style });
    this.lineBytes = [];
  }

  /** Puts a line on paper — if there is paper: once it runs out, the rest of the job is lost. */
  private print(line: PrintedLine): void {
    if (this.options.takePaper?.() === false) this.truncated = true;
    else this.lines.push(line);
  }

  /** Prints what is waiting in the line buffer, as a printer does before a cut or a symbol. */
  private flushLine(): void {
    if (this.lineBytes.length > 0) this.endLine();
  }
}
