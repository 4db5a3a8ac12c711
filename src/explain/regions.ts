import { createCanvas } from "canvas";
import { Puzzle } from "../puzzle/puzzle";
import { layout } from "../puzzle/layout";
import { tracePath, warpLanes } from "../puzzle/trace";

/** A 0/1 mask (size*size) drawn with node-canvas: whatever `draw` strokes or fills counts. */
function mask(size: number, draw: (ctx: ReturnType<ReturnType<typeof createCanvas>["getContext"]>) => void): Uint8Array {
  const c = createCanvas(size, size);
  const ctx = c.getContext("2d");
  ctx.fillStyle = "black";
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = ctx.fillStyle = "white";
  draw(ctx);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  return Uint8Array.from({ length: size * size }, (_, i) => (rgba[i * 4] > 127 ? 1 : 0));
}

/** Pixels on (within ~1.5 px of) the traced route(s) of a k-hop puzzle. */
export function routeMask(p: Puzzle, size: number, hops: number): Uint8Array {
  const L = layout(p, size);
  return mask(size, (ctx) => {
    ctx.lineWidth = 3;
    for (const lane of warpLanes(p, hops)) {
      ctx.beginPath();
      tracePath(p, lane).forEach(([l, row], i) => (i === 0 ? ctx.moveTo(L.laneX(l), L.rowY(row)) : ctx.lineTo(L.laneX(l), L.rowY(row))));
      ctx.stroke();
    }
  });
}

/** Pixels of one circle (top or bottom row, lane). */
export function circleMask(p: Puzzle, size: number, row: "top" | "bottom", lane: number): Uint8Array {
  const L = layout(p, size);
  return mask(size, (ctx) => {
    ctx.beginPath();
    ctx.arc(L.laneX(lane), row === "top" ? L.topY : L.bottomY, L.radius + 1, 0, 2 * Math.PI);
    ctx.fill();
  });
}

/**
 * How concentrated a heatmap is on a region: mean heat inside / mean heat overall. 1 means no
 * preference; the route covers ~15 % of a 64 px puzzle, so a map that follows it scores ~2-6.
 */
export function concentration(heat: Float32Array, m: Uint8Array): number {
  let inside = 0;
  let n = 0;
  let all = 0;
  for (let i = 0; i < heat.length; i++) {
    all += heat[i];
    if (m[i]) {
      inside += heat[i];
      n++;
    }
  }
  return n === 0 || all === 0 ? NaN : inside / n / (all / heat.length);
}
