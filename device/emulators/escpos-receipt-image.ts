import { GlobalFonts, createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { displayWidth } from '../printer/receipt.ts';
import type { PrintedJob, PrintedLine } from './escpos-parser.ts';

/** Debian's fonts-wqy-microhei: one font with both Hanzi and Latin, as a GB18030 printer's ROM has. */
const FONT_PATH = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';
const FONT_FAMILY = 'WenQuanYi Micro Hei';

/** 58 mm paper at 203 dpi: 384 printable dots; font A is 12 × 24 dots (a Hanzi 24 × 24); 30-dot lines. */
const PAPER_DOTS = 384;
const MARGIN = 16;
const GLYPH = 24;
const CELL = 12;
const LINE = 30;
/** Module size 6 is what ReceiptPrinter asks for; a version-2/3 code is about 25–29 modules. */
const QR_SIZE = 6 * 29;

let fontRegistered = false;

function registerFont(): void {
  if (fontRegistered) return;
  if (!GlobalFonts.registerFromPath(FONT_PATH, FONT_FAMILY)) {
    throw new Error(`cannot load the receipt font ${FONT_PATH}; install it with: apt-get install -y fonts-wqy-microhei`);
  }
  fontRegistered = true;
}

type TextLine = Extract<PrintedLine, { kind: 'text' }>;

/**
 * The text in rows as the printer lays it out: fixed cells (a wide character takes two), wrapping at
 * the paper's edge. Drawing cell by cell keeps the columns of "label      value" rows aligned, which a
 * proportional font would not.
 */
function rows(line: TextLine): string[][] {
  const perRow = Math.floor(PAPER_DOTS / (CELL * line.width));
  const result: string[][] = [[]];
  let used = 0;
  for (const char of line.text) {
    const cells = displayWidth(char);
    if (used + cells > perRow) {
      result.push([]);
      used = 0;
    }
    result.at(-1)!.push(char);
    used += cells;
  }
  return result;
}

function lineHeight(line: PrintedLine): number {
  return line.kind === 'qr' ? QR_SIZE + LINE : LINE * line.height * rows(line).length;
}

function x(align: PrintedLine['align'], width: number): number {
  if (align === 'center') return MARGIN + (PAPER_DOTS - width) / 2;
  if (align === 'right') return MARGIN + PAPER_DOTS - width;
  return MARGIN;
}

function drawText(ctx: SKRSContext2D, line: TextLine, top: number): void {
  rows(line).forEach((chars, index) => {
    const width = displayWidth(chars.join('')) * CELL * line.width;
    ctx.save();
    ctx.translate(x(line.align, width), top + (index * LINE + (LINE - GLYPH) / 2) * line.height);
    ctx.scale(line.width, line.height);
    let cell = 0;
    for (const char of chars) {
      const cells = displayWidth(char);
      const left = cell * CELL + (cells * CELL - ctx.measureText(char).width) / 2;
      ctx.fillText(char, left, 0);
      // The font has no bold face: a second pass one dot to the right is how thermal printers embolden too.
      if (line.bold) ctx.fillText(char, left + 1 / line.width, 0);
      cell += cells;
    }
    ctx.restore();
  });
}

/**
 * Where the printer would print the QR symbol: a box with the three finder squares and the data in it.
 * Not a scannable code (that needs an encoder the project does not depend on) — the data is readable.
 */
function drawQr(ctx: SKRSContext2D, line: Extract<PrintedLine, { kind: 'qr' }>, top: number): void {
  const left = x(line.align, QR_SIZE);
  ctx.lineWidth = 2;
  ctx.strokeRect(left, top, QR_SIZE, QR_SIZE);
  const finder = 7 * 6;
  for (const [fx, fy] of [[0, 0], [QR_SIZE - finder, 0], [0, QR_SIZE - finder]] as const) {
    ctx.fillRect(left + fx, top + fy, finder, finder);
    ctx.fillStyle = '#fff';
    ctx.fillRect(left + fx + 6, top + fy + 6, finder - 12, finder - 12);
    ctx.fillStyle = '#000';
    ctx.fillRect(left + fx + 12, top + fy + 12, finder - 24, finder - 24);
  }
  ctx.save();
  ctx.font = `12px "${FONT_FAMILY}"`;
  const perRow = 20;
  for (let i = 0; i * perRow < line.data.length; i++) {
    ctx.fillText(line.data.slice(i * perRow, (i + 1) * perRow), left + finder + 4, top + finder + 4 + i * 14);
  }
  ctx.restore();
}

/** A picture of the printed slip — for people checking layout, the demo page and test artifacts. */
export function renderJobPng(job: PrintedJob): Buffer {
  registerFont();
  const height = job.lines.reduce((sum, line) => sum + lineHeight(line), 2 * MARGIN);
  const canvas = createCanvas(PAPER_DOTS + 2 * MARGIN, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000';
  ctx.strokeStyle = '#000';
  ctx.textBaseline = 'top';
  ctx.font = `${GLYPH}px "${FONT_FAMILY}"`;
  let top = MARGIN;
  for (const line of job.lines) {
    if (line.kind === 'qr') drawQr(ctx, line, top);
    else drawText(ctx, line, top);
    top += lineHeight(line);
  }
  return canvas.toBuffer('image/png');
}
