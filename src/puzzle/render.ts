import { createCanvas, Canvas, CanvasRenderingContext2D } from "canvas";
import { Puzzle } from "./puzzle";
import { tracePath, warpLanes } from "./trace";
import { Rng } from "../util/rng";

/** Eight clearly distinct colours (none white, none dark: white is START, dark is the ladder). */
export const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [230, 25, 75], // red
  [60, 180, 75], // green
  [67, 99, 216], // blue
  [245, 130, 49], // orange
  [145, 30, 180], // purple
  [66, 212, 244], // cyan
  [240, 50, 230], // magenta
  [255, 225, 25], // yellow
];
export const PALETTE_NAMES = ["red", "green", "blue", "orange", "purple", "cyan", "magenta", "yellow"];

/** Optional distractions; all zero by default so the plain picture is what the spec draws. */
export interface Nuisance {
  /** Max displacement in pixels of lanes, rungs and circles, and of the line width. */
  jitter: number;
  /** 0..1: how far the background may drift from white towards a random colour. */
  tint: number;
  /** Max absolute per-pixel noise added to each channel, 0..255. */
  noise: number;
}
export const NO_NUISANCE: Nuisance = { jitter: 0, tint: 0, noise: 0 };

export function validateNuisance(n: Nuisance): Nuisance {
  const check = (name: string, v: number, hi: number) => {
    if (!(typeof v === "number" && v >= 0 && v <= hi)) throw new Error(`nuisance.${name} must be a number in 0..${hi}, got ${v}`);
  };
  check("jitter", n.jitter, 4);
  check("tint", n.tint, 1);
  check("noise", n.noise, 128);
  return n;
}

/** Where things sit in a size x size image; shared by the renderer and every overlay. */
export interface Layout {
  size: number;
  radius: number;
  lineWidth: number;
  laneX: (lane: number) => number;
  topY: number;
  bottomY: number;
  /** y of a rung row; row -1 is the top circle and row `rows` the bottom circle. */
  rowY: (row: number) => number;
}

export function layout(p: Pick<Puzzle, "lanes" | "rows">, size: number): Layout {
  const spacing = size / p.lanes;
  const radius = Math.min(0.36 * spacing, 0.08 * size);
  const margin = Math.max(1, size * 0.02);
  const topY = margin + radius;
  const bottomY = size - margin - radius;
  const y0 = topY + radius + 1;
  const y1 = bottomY - radius - 1;
  // Odd-width lines centred on pixel centres render crisp instead of as two grey rows.
  const snap = (v: number) => Math.floor(v) + 0.5;
  return {
    size,
    radius,
    lineWidth: Math.max(1, Math.round(size / 64)),
    laneX: (lane) => snap((lane + 0.5) * spacing),
    topY,
    bottomY,
    rowY: (row) => (row < 0 ? topY : row >= p.rows ? bottomY : snap(y0 + ((row + 0.5) * (y1 - y0)) / p.rows)),
  };
}

const rgb = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

/**
 * Draws the puzzle in image coordinates (callers scale the context for bigger pictures).
 * With a nuisance, `rng` supplies the jitter and tint so the pixels stay a function of the sample.
 */
export function drawPuzzle(ctx: CanvasRenderingContext2D, p: Puzzle, size: number, nuisance = NO_NUISANCE, rng?: Rng): void {
  const L = layout(p, size);
  const j = (scale = 1) => (nuisance.jitter > 0 && rng ? (rng() * 2 - 1) * nuisance.jitter * scale : 0);
  let bg = [255, 255, 255];
  if (nuisance.tint > 0 && rng) {
    const t = rng() * nuisance.tint;
    const target = [rng() * 255, rng() * 255, rng() * 255];
    bg = bg.map((v, i) => Math.round(v * (1 - t) + target[i] * t));
  }
  ctx.fillStyle = rgb(bg);
  ctx.fillRect(0, 0, size, size);
  const xs = Array.from({ length: p.lanes }, (_, i) => L.laneX(i) + j(0.5));
  ctx.strokeStyle = "rgb(20,20,20)";
  ctx.lineWidth = Math.max(0.6, L.lineWidth + j(0.25));
  ctx.beginPath();
  for (const x of xs) {
    ctx.moveTo(x, L.topY + L.radius);
    ctx.lineTo(x, L.bottomY - L.radius);
  }
  for (const r of p.rungs) {
    const y = L.rowY(r.row) + j(0.5);
    ctx.moveTo(xs[r.left], y);
    ctx.lineTo(xs[r.left + 1], y);
  }
  ctx.stroke();
  const stroke = Math.max(0.5, L.lineWidth * 0.75);
  for (let i = 0; i < p.lanes; i++) {
    const top = circleSprite(i === p.start ? "rgb(255,255,255)" : rgb(PALETTE[p.top[i]]), L.radius, stroke);
    const bottom = circleSprite(rgb(PALETTE[p.bottom[i]]), L.radius, stroke);
    ctx.drawImage(top, Math.round(xs[i] - 0.5) - top.width / 2 + 0.5, Math.floor(L.topY) - top.height / 2 + 0.5);
    ctx.drawImage(bottom, Math.round(xs[i] - 0.5) - bottom.width / 2 + 0.5, Math.floor(L.bottomY) - bottom.height / 2 + 0.5);
  }
}

const sprites = new Map<string, Canvas>();
/**
 * A circle drawn once and reused: arc + fill + stroke costs ~33 us a circle in cairo, a copy a
 * few. Centres sit on pixel centres, so the copy is the same pixels a direct draw gives.
 */
function circleSprite(fill: string, radius: number, lineWidth: number): Canvas {
  const key = `${fill}|${radius}|${lineWidth}`;
  let c = sprites.get(key);
  if (!c) {
    const side = 2 * Math.ceil(radius + lineWidth) + 1;
    c = createCanvas(side, side);
    const ctx = c.getContext("2d");
    ctx.beginPath();
    ctx.arc(side / 2, side / 2, radius, 0, 2 * Math.PI);
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = "rgb(20,20,20)";
    ctx.lineWidth = lineWidth;
    ctx.stroke();
    sprites.set(key, c);
  }
  return c;
}

const canvases = new Map<number, Canvas>();
function scratchCanvas(size: number): Canvas {
  let c = canvases.get(size);
  if (!c) {
    c = createCanvas(size, size);
    canvases.set(size, c);
  }
  return c;
}

/** The model's input: size*size*3 bytes, row-major RGB. */
export function renderRGB(p: Puzzle, size: number, nuisance = NO_NUISANCE, rng?: Rng): Uint8Array {
  const canvas = scratchCanvas(size);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  drawPuzzle(ctx, p, size, nuisance, rng);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const out = new Uint8Array(size * size * 3);
  const noise = nuisance.noise > 0 && rng ? nuisance.noise : 0;
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    for (let c = 0; c < 3; c++) {
      const v = noise ? rgba[i + c] + Math.round((rng!() * 2 - 1) * noise) : rgba[i + c];
      out[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

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

const PATH_COLOURS = ["rgba(0,0,0,0.85)", "rgba(255,0,0,0.85)", "rgba(0,110,255,0.85)", "rgba(0,170,0,0.85)"];

/**
 * The stored pixels, enlarged, with the warp route drawn on top: the plain trace from START
 * (black), then each hop's trace in its own colour, dashed hop arrows from bottom to top.
 */
export function puzzleWithPaths(rgbBytes: Uint8Array, p: Puzzle, size: number, hops: number, scale = 6): Canvas {
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
