/** The model's input: a puzzle drawn into RGB bytes (display overlays are in annotate.ts). */
import { createCanvas, Canvas, CanvasRenderingContext2D } from "canvas";
import { Puzzle } from "./puzzle";
import { NO_NUISANCE } from "./nuisance";
import { Layout, layout, rungShiftLimit, STANDARD_STYLE, Style, variedStyle } from "./layout";
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
export const PALETTE_NAMES = [
  "red",
  "green",
  "blue",
  "orange",
  "purple",
  "cyan",
  "magenta",
  "yellow",
];

const rgb = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

/**
 * Draws the puzzle in image coordinates (callers scale the context for bigger pictures), in
 * `style` (varied per sample when `nuisance.vary` > 0). With a nuisance, `rng` supplies the jitter,
 * tint and style so the pixels stay a function of the sample.
 */
export function drawPuzzle(
  ctx: CanvasRenderingContext2D,
  p: Puzzle,
  size: number,
  nuisance = NO_NUISANCE,
  rng?: Rng,
  style: Style = STANDARD_STYLE,
): void {
  const vary = nuisance.vary ?? 0;
  const L = layout(p, size, vary > 0 && rng ? variedStyle(rng, vary) : style);
  const j = (scale = 1) =>
    nuisance.jitter > 0 && rng ? (rng() * 2 - 1) * nuisance.jitter * scale : 0;
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
  const shift = rungShiftLimit(L, ctx.lineWidth);
  ctx.beginPath();
  for (const x of xs) {
    ctx.moveTo(x, L.topY + L.radius);
    ctx.lineTo(x, L.bottomY - L.radius);
  }
  for (const r of p.rungs) {
    const y = L.rowY(r.row) + Math.max(-shift, Math.min(shift, j(0.5)));
    ctx.moveTo(xs[r.left], y);
    ctx.lineTo(xs[r.left + 1], y);
  }
  ctx.stroke();
  const stroke = circleStroke(L);
  for (let i = 0; i < p.lanes; i++) {
    const top = circleSprite(
      i === p.start ? "rgb(255,255,255)" : rgb(PALETTE[p.top[i]]),
      L.radius,
      stroke,
    );
    const bottom = circleSprite(rgb(PALETTE[p.bottom[i]]), L.radius, stroke);
    ctx.drawImage(
      top,
      Math.round(xs[i] - 0.5) - top.width / 2 + 0.5,
      Math.floor(L.topY) - top.height / 2 + 0.5,
    );
    ctx.drawImage(
      bottom,
      Math.round(xs[i] - 0.5) - bottom.width / 2 + 0.5,
      Math.floor(L.bottomY) - bottom.height / 2 + 0.5,
    );
  }
}

/** Outline width of the circles in a layout. */
const circleStroke = (L: Layout) => Math.max(0.5, L.lineWidth * 0.75);

/** One circle sprite: fill colour (CSS rgb()), radius and outline width in pixels. */
export interface SpriteSpec {
  fill: string;
  radius: number;
  lineWidth: number;
}

/**
 * The circle sprites drawPuzzle draws for puzzles of `lanes` lanes and `rows` rows at `size` px
 * in `style` (without a varied style): START's white and the first `lanes` palette colours.
 */
export function circleSpriteSpecs(
  lanes: number,
  rows: number,
  size: number,
  style: Style = STANDARD_STYLE,
): SpriteSpec[] {
  const L = layout({ lanes, rows }, size, style);
  const fills = ["rgb(255,255,255)", ...PALETTE.slice(0, lanes).map(rgb)];
  return fills.map((fill) => ({ fill, radius: L.radius, lineWidth: circleStroke(L) }));
}

const spriteKey = (s: SpriteSpec) => `${s.fill}|${s.radius}|${s.lineWidth}`;
const sprites = new Map<string, Canvas>();

/**
 * Puts a sprite drawn elsewhere into the cache, to be used instead of drawing one. The explorer
 * page (src/explore) seeds it with the sprites node-canvas drew, so that its circles are cairo's
 * pixels: the browser's own antialiasing of the same arcs differs by up to 80 levels on the rims.
 */
export function seedCircleSprite(s: SpriteSpec, sprite: Canvas): void {
  sprites.set(spriteKey(s), sprite);
}

/**
 * A circle drawn once and reused: arc + fill + stroke costs ~33 us a circle in cairo, a copy a
 * few. Centres sit on pixel centres, so the copy is the same pixels a direct draw gives.
 */
export function circleSprite(fill: string, radius: number, lineWidth: number): Canvas {
  const key = spriteKey({ fill, radius, lineWidth });
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
    // Varied styles draw a new radius per sample: keep the cache bounded.
    if (sprites.size >= 512) sprites.clear();
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
export function renderRGB(
  p: Puzzle,
  size: number,
  nuisance = NO_NUISANCE,
  rng?: Rng,
  style: Style = STANDARD_STYLE,
): Uint8Array {
  const canvas = scratchCanvas(size);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  drawPuzzle(ctx, p, size, nuisance, rng, style);
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
