import { createCanvas, Canvas } from "canvas";
import { rgbToCanvas } from "../puzzle/annotate";

/** A grid of stored puzzles with a caption under each (label, prediction, ...). */
export function imageGrid(
  images: Uint8Array[],
  size: number,
  captions: string[],
  opts: { cols?: number; scale?: number; captionColours?: string[] } = {},
): Canvas {
  const scale = opts.scale ?? 3;
  return canvasGrid(
    images.map((img) => rgbToCanvas(img, size, scale)),
    captions,
    opts,
  );
}

/** Equal-sized canvases (puzzles, overlays) in a grid with captions. */
export function canvasGrid(
  tiles: Canvas[],
  captions: string[],
  opts: { cols?: number; captionColours?: string[] } = {},
): Canvas {
  const images = tiles;
  const cols = Math.max(1, opts.cols ?? Math.min(8, tiles.length));
  const cell = tiles[0]?.width ?? 1;
  const captionH = 16;
  const rows = Math.ceil(images.length / cols);
  const canvas = createCanvas(cols * (cell + 6) + 6, rows * (cell + captionH + 6) + 6);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px sans-serif";
  images.forEach((img, i) => {
    const x = 6 + (i % cols) * (cell + 6);
    const y = 6 + Math.floor(i / cols) * (cell + captionH + 6);
    ctx.drawImage(img, x, y);
    ctx.fillStyle = opts.captionColours?.[i] ?? "black";
    ctx.fillText(captions[i] ?? "", x, y + cell + 12);
  });
  return canvas;
}
