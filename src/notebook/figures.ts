import { createCanvas, Canvas, CanvasRenderingContext2D } from "canvas";
import { rgbToCanvas } from "../puzzle/annotate";
import { FIGURE_WIDTH } from "../report/charts";

export { FIGURE_WIDTH };
const GAP = 6;
const FONT = "sans-serif";

/** A grid of stored puzzles with a caption under each (label, prediction, ...). */
export function imageGrid(
  images: Uint8Array[],
  size: number,
  captions: string[],
  opts: { cols?: number; scale?: number; captionColours?: string[]; maxWidth?: number } = {},
): Canvas {
  const scale = opts.scale ?? 3;
  return canvasGrid(
    images.map((img) => rgbToCanvas(img, size, scale)),
    captions,
    opts,
  );
}

/** The side of a tile so that `cols` of them fit `maxWidth`: at most `native`, never below 24 px. */
export function tileSide(native: number, cols: number, maxWidth = FIGURE_WIDTH): number {
  return Math.max(24, Math.min(native, Math.floor((maxWidth - GAP * (cols + 1)) / cols)));
}

/** Draws `text` in at most `width` pixels: the font shrinks to `min` px, then the text is cut with "…". */
export function fitText(
  ctx: CanvasRenderingContext2D,
  text: string,
  x: number,
  y: number,
  width: number,
  px = 13,
  min = 10,
  weight = "",
): void {
  let size = px;
  const font = (s: number) => `${weight ? weight + " " : ""}${s}px ${FONT}`;
  ctx.font = font(size);
  while (size > min && ctx.measureText(text).width > width) ctx.font = font(--size);
  let t = text;
  while (t.length > 1 && ctx.measureText(t).width > width) t = t.slice(0, -2) + "…";
  ctx.fillText(t, x, y);
}

/**
 * Equal-sized canvases (puzzles, overlays) in a grid with captions, at most `maxWidth` wide
 * (tiles are scaled down to fit, captions stay 13 px). `marks` writes a note over a tile (e.g.
 * "map is all zero"), on a grey veil so that it reads over any picture.
 */
export function canvasGrid(
  tiles: Canvas[],
  captions: string[],
  opts: { cols?: number; captionColours?: string[]; maxWidth?: number; marks?: string[] } = {},
): Canvas {
  const cols = Math.max(1, Math.min(opts.cols ?? Math.min(8, tiles.length), tiles.length || 1));
  const cell = tileSide(tiles[0]?.width ?? 1, cols, opts.maxWidth);
  const captionH = 18;
  const rows = Math.ceil(tiles.length / cols);
  const canvas = createCanvas(cols * (cell + GAP) + GAP, rows * (cell + captionH + GAP) + GAP);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  tiles.forEach((img, i) => {
    const x = GAP + (i % cols) * (cell + GAP);
    const y = GAP + Math.floor(i / cols) * (cell + captionH + GAP);
    drawTile(ctx, img, x, y, cell, opts.marks?.[i]);
    ctx.fillStyle = opts.captionColours?.[i] ?? "black";
    fitText(ctx, captions[i] ?? "", x, y + cell + 14, cell);
  });
  return canvas;
}

/** One tile at `side` px (smoothed when shrunk, crisp pixels when enlarged), with an optional note over it. */
export function drawTile(
  ctx: CanvasRenderingContext2D,
  img: Canvas,
  x: number,
  y: number,
  side: number,
  mark?: string,
): void {
  ctx.imageSmoothingEnabled = side < img.width;
  ctx.drawImage(img, x, y, side, side);
  if (!mark) return;
  ctx.fillStyle = "rgba(255,255,255,0.72)";
  ctx.fillRect(x, y, side, side);
  ctx.fillStyle = "#333";
  ctx.textAlign = "center";
  const lines = mark.split("\n");
  lines.forEach((l, k) =>
    fitText(
      ctx,
      l,
      x + side / 2,
      y + side / 2 + (k - (lines.length - 1) / 2) * 15 + 4,
      side - 6,
      12,
    ),
  );
  ctx.textAlign = "left";
}

/**
 * A figure as PNG with each colour channel rounded to `bits` bits: heat overlays are smooth
 * gradients that PNG compresses poorly (a Grad-CAM figure: 171 KB at 8 bits, 89 KB at 5), and a
 * report holds dozens of them. Text and lines stay sharp; gradients get faint steps.
 */
export function compactPNG(canvas: Canvas, bits = 5): Buffer {
  const ctx = canvas.getContext("2d");
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const step = 1 << (8 - bits);
  const d = img.data;
  for (let i = 0; i < d.length; i++)
    if ((i & 3) !== 3) d[i] = Math.min(255, Math.round(d[i] / step) * step);
  const out = createCanvas(canvas.width, canvas.height);
  out.getContext("2d").putImageData(img, 0, 0);
  return out.toBuffer("image/png", { compressionLevel: 9 });
}
