import { displayWidth } from '../printer/receipt.ts';
import type { PrintedJob, PrintedLine } from './escpos-parser.ts';
import { launchHeadlessChromium } from './headless-chromium.ts';

/** 58 mm paper at 203 dpi: 384 printable dots; font A is 12 × 24 dots (a Hanzi 24 × 24); 30-dot lines. */
const PAPER_DOTS = 384;
const MARGIN = 16;
const CELL = 12;
const LINE = 30;
/** Module size 6 is what ReceiptPrinter asks for; a version-2/3 code is about 25–29 modules. */
const QR_SIZE = 6 * 29;

type TextLine = Extract<PrintedLine, { kind: 'text' }>;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The text in rows as the printer lays it out: fixed cells (a wide character takes two), wrapping at the
 * paper's edge — so "label      value" rows stay aligned as on paper.
 */
function rows(line: TextLine): string[] {
  const perRow = Math.floor(PAPER_DOTS / (CELL * line.width));
  const result = [''];
  let used = 0;
  for (const char of line.text) {
    const cells = displayWidth(char);
    if (used + cells > perRow) {
      result.push('');
      used = 0;
    }
    result[result.length - 1] += char;
    used += cells;
  }
  return result;
}

function textHtml(line: TextLine): string {
  // Double width/height is a scale of the glyph cell, as the printer's ROM font does it.
  const style = `text-align:${line.align};height:${LINE * line.height}px;` +
    `transform:scale(${line.width},${line.height});transform-origin:${line.align} top;` +
    (line.bold ? 'font-weight:bold;' : '');
  // Each character gets exactly its printer cells, whatever the font's own advance width.
  const cells = (row: string) => [...row].map((char) => `<b style="width:${displayWidth(char) * CELL}px">${escapeHtml(char)}</b>`).join('');
  return rows(line).map((row) => `<div class="row" style="${style}">${cells(row)}</div>`).join('');
}

/**
 * Where the printer would print the QR symbol: a box with the three finder squares and the data in it.
 * Not a scannable code (that needs an encoder the project does not depend on) — the data is readable.
 */
function qrHtml(line: Extract<PrintedLine, { kind: 'qr' }>): string {
  return `<div class="qr-row" style="text-align:${line.align}"><div class="qr">` +
    '<i style="left:0;top:0"></i><i style="right:0;top:0"></i><i style="left:0;bottom:0"></i>' +
    `<span>${escapeHtml(line.data)}</span></div></div>`;
}

function slipHtml(job: PrintedJob): string {
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin: 0; background: #fff; }
    .slip { width: ${PAPER_DOTS}px; padding: ${MARGIN}px; background: #fff; color: #000;
            font: 24px/30px "WenQuanYi Micro Hei Mono", monospace; }
    .row { white-space: pre; overflow: visible; }
    .row b { display: inline-block; text-align: center; font-weight: inherit; }
    .qr-row { height: ${QR_SIZE + LINE}px; }
    .qr { display: inline-block; position: relative; width: ${QR_SIZE}px; height: ${QR_SIZE}px; border: 2px solid #000; box-sizing: border-box; }
    .qr i { position: absolute; width: 30px; height: 30px; border: 6px solid #000; }
    .qr span { position: absolute; left: 48px; top: 48px; right: 8px; font-size: 12px; line-height: 14px; word-break: break-all; text-align: left; }
  </style></head><body><div class="slip">${job.lines.map((line) => (line.kind === 'qr' ? qrHtml(line) : textHtml(line))).join('')}</div></body></html>`;
}

/**
 * A picture of the printed slip — for people checking layout, the demo and test artifacts — drawn by
 * headless Chromium with the CJK font a GB18030 printer's ROM would have (fonts-wqy-microhei).
 */
export async function renderJobPng(job: PrintedJob): Promise<Buffer> {
  const browser = await launchHeadlessChromium();
  try {
    const page = await browser.newPage({ viewport: { width: PAPER_DOTS + 2 * MARGIN, height: 600 } });
    await page.setContent(slipHtml(job));
    return await page.locator('.slip').screenshot({ type: 'png' });
  } finally {
    await browser.close();
  }
}
