/** Display overlays: stored pixels enlarged, with the solution drawn on top (never a model input). */
import { createCanvas, Canvas } from "canvas";
import { Puzzle } from "./puzzle";
import { layout } from "./layout";
import { tracePath, warpLanes } from "./trace";

/** RGB bytes (as stored in a data set) onto a canvas, upscaled with hard pixel edges. */
export function rgbToCanvas(rgbBytes: Uint8Array, size: number, scale: number): Canvas {
  const small = createCanvas(size, size);
  const sctx = small.getContext("2d");
  const img = sctx.createImageData(size, size);
  for (let i = 0, o = 0; o < rgbBytes.length; i += 4, o += 3) {
    img.data[i] = rgbBytes[o];
    img.data[i + 1] = rgbBytes[o + 1];
    img.data[i + 2] = rgbBytes[o + 2];
    img.data[i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  const big = createCanvas(size * scale, size * scale);
  const ctx = big.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, size * scale, size * scale);
  return big;
}

const PATH_COLOURS = [
  "rgba(0,0,0,0.85)",
  "rgba(255,0,0,0.85)",
  "rgba(0,110,255,0.85)",
  "rgba(0,170,0,0.85)",
];

/**
 * The stored pixels, enlarged, with the warp route drawn on top: the plain trace from START
 * (black), then each hop's trace in its own colour, dashed hop arrows from bottom to top.
 */
export function puzzleWithPaths(
  rgbBytes: Uint8Array,
  p: Puzzle,
  size: number,
  hops: number,
  scale = 6,
): Canvas {
  const canvas = rgbToCanvas(rgbBytes, size, scale);
  const ctx = canvas.getContext("2d");
  ctx.scale(scale, scale);
  const L = layout(p, size);
  const lanes = warpLanes(p, hops);
  ctx.lineWidth = Math.max(1, size / 40);
  lanes.forEach((lane, k) => {
    const offset = (k - (lanes.length - 1) / 2) * 0.6;
    ctx.strokeStyle = PATH_COLOURS[k % PATH_COLOURS.length];
    ctx.setLineDash([]);
    ctx.beginPath();
    tracePath(p, lane).forEach(([l, row], i) => {
      const x = L.laneX(l) + offset;
      const y = L.rowY(row);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    if (k + 1 < lanes.length) {
      const end = tracePath(p, lane).at(-1)![0];
      ctx.setLineDash([1.5, 1]);
      ctx.beginPath();
      ctx.moveTo(L.laneX(end), L.bottomY);
      ctx.lineTo(L.laneX(lanes[k + 1]), L.topY);
      ctx.stroke();
    }
  });
  ctx.setLineDash([]);
  return canvas;
}
