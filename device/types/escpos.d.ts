/** The parts of escpos 2.5.2 (untyped, CommonJS) that the kiosk uses. Source: node_modules/escpos/printer.js. */
declare module 'escpos' {
  export type Callback = (error?: Error | null) => void;

  /**
   * A transport (escpos/adapter.js declares open/write/close). Printer itself only calls write — from
   * flush(); close() is reached only through Printer.close, which swallows write errors, so it is not used.
   */
  export interface Adapter {
    write(data: Buffer, callback: Callback): unknown;
  }

  export class Printer {
    constructor(adapter: Adapter, options?: { encoding?: string });
    /** 'init' sends ESC @. */
    hardware(command: 'init' | 'select' | 'reset'): this;
    align(align: 'lt' | 'ct' | 'rt'): this;
    /** Width and height multipliers, 1–8. */
    size(width: number, height: number): this;
    /** Encodes content + LF with the printer's encoding (GB18030 by default). */
    text(content: string, encoding?: string): this;
    /** Appends bytes as they are (2.5.2 has no raw(); print() is the raw path). */
    print(content: Buffer): this;
    feed(lines?: number): this;
    cut(partial?: boolean, feedLines?: number): this;
    /** Hands the buffered bytes to adapter.write. */
    flush(callback: Callback): this;
  }
}
