import { createCanvas } from "canvas";
import { Puzzle } from "../puzzle/puzzle";
import { layout } from "../puzzle/layout";
import { trace, tracePath, warpLanes } from "../puzzle/trace";

/** A 0/1 mask (size*size) drawn with node-canvas: whatever `draw` strokes or fills counts. */
function mask(
  size: number,
  draw: (ctx: ReturnType<ReturnType<typeof createCanvas>["getContext"]>) => void,
): Uint8Array {
  const c = createCanvas(size, size);
  const ctx = c.getContext("2d");
  ctx.fillStyle = "black";
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = ctx.fillStyle = "white";
  draw(ctx);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  return Uint8Array.from({ length: size * size }, (_, i) => (rgba[i * 4] > 127 ? 1 : 0));
}

/** Pixels on (within ~1.5 px of) the traces that start at `lanes`. */
function tracesMask(p: Puzzle, size: number, lanes: number[]): Uint8Array {
  const L = layout(p, size);
  return mask(size, (ctx) => {
    ctx.lineWidth = 3;
    for (const lane of lanes) {
      ctx.beginPath();
      tracePath(p, lane).forEach(([l, row], i) =>
        i === 0 ? ctx.moveTo(L.laneX(l), L.rowY(row)) : ctx.lineTo(L.laneX(l), L.rowY(row)),
      );
      ctx.stroke();
    }
  });
}

/** Pixels on the traced route(s) of a k-hop puzzle. */
export function routeMask(p: Puzzle, size: number, hops: number): Uint8Array {
  return tracesMask(p, size, warpLanes(p, hops));
}

/** A circle of the top or bottom row. */
export interface Circle {
  row: "top" | "bottom";
  lane: number;
}

/** Pixels of some circles (each drawn 1 px larger than rendered, so its outline counts). */
export function circlesMask(p: Puzzle, size: number, circles: Circle[]): Uint8Array {
  const L = layout(p, size);
  return mask(size, (ctx) => {
    for (const c of circles) {
      ctx.beginPath();
      ctx.arc(L.laneX(c.lane), c.row === "top" ? L.topY : L.bottomY, L.radius + 1, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
}

/** Pixels of one circle (top or bottom row, lane). */
export function circleMask(
  p: Puzzle,
  size: number,
  row: "top" | "bottom",
  lane: number,
): Uint8Array {
  return circlesMask(p, size, [{ row, lane }]);
}

/**
 * How concentrated a heatmap is on a region: mean heat inside / mean heat overall. 1 means no
 * preference; at most 1 / (share of the image the region covers): the route of a plain puzzle
 * covers 7 % of a 64 px easy puzzle (13 % at 32 px; 50 test puzzles), so up to ~14 there.
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

/** Pixels in `a` and not in `b`. */
function minus(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => (v && !b[i] ? 1 : 0));
}

/** Heat measures of one explained puzzle; every value is a concentration (see above) or a ratio of two. */
export interface RegionMeasures {
  /**
   * On the route taken from START (all k+1 traces of a k-hop warp), on the pixels a control route
   * does not share; the mean over the controls.
   */
  route: number;
  /**
   * The control: on the route a solver would take from another top lane (same number of traces,
   * same hops), on the pixels the taken route does not share; the mean over the other lanes
   * (NaN when every other lane's route is the taken one).
   */
  otherRoute: number;
  /** route / otherRoute: above 1 when the map prefers the taken route to one of the same kind not taken. */
  routeRatio: number;
  /** On the circles the route touches: START, each bottom circle reached, each top circle a hop lands on. */
  routeCircles: number;
  /** On every other circle (NaN when the route touches them all). */
  otherCircles: number;
  /** routeCircles / otherCircles. */
  circleRatio: number;
  /** On START alone. */
  start: number;
  /** On the bottom circle g1 that plain tracing from START reaches. */
  g1Circle: number;
  /** On the top circle the first hop lands on (warp only, else null). */
  hopTarget: number | null;
}

/** The circles a route through `lanes` touches: each lane's top circle and the bottom circle its trace reaches. */
function circlesOf(p: Puzzle, lanes: number[]): Circle[] {
  return lanes.flatMap((lane) => [
    { row: "top" as const, lane },
    { row: "bottom" as const, lane: trace(p, lane) },
  ]);
}

/** Where the heat of one map falls, against the controls (see RegionMeasures). */
export function regionMeasures(
  p: Puzzle,
  heat: Float32Array,
  size: number,
  hops: number,
): RegionMeasures {
  if (heat.length !== size * size)
    throw new Error(`heatmap has ${heat.length} values, expected ${size}x${size} = ${size * size}`);
  const taken = warpLanes(p, hops);
  const takenMask = tracesMask(p, size, taken);
  // One comparison per other top lane: each side measured on the pixels the other side lacks
  // (shared rungs, or a whole shared trace after a hop, say nothing about which route is used).
  const pairs = Array.from({ length: p.lanes }, (_, l) => l)
    .filter((l) => l !== p.start)
    .map((s) => {
      const other = tracesMask(p, size, warpLanes({ ...p, start: s }, hops));
      return [
        concentration(heat, minus(takenMask, other)),
        concentration(heat, minus(other, takenMask)),
      ];
    })
    .filter(([a, b]) => !Number.isNaN(a) && !Number.isNaN(b));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const route = mean(pairs.map(([a]) => a));
  const otherRoute = mean(pairs.map(([, b]) => b));
  const onRoute = circlesOf(p, taken);
  const key = (c: Circle) => `${c.row}${c.lane}`;
  const touched = new Set(onRoute.map(key));
  const rest = (["top", "bottom"] as const)
    .flatMap((row) => Array.from({ length: p.lanes }, (_, lane) => ({ row, lane })))
    .filter((c) => !touched.has(key(c)));
  const routeCircles = concentration(heat, circlesMask(p, size, onRoute));
  const otherCircles = rest.length ? concentration(heat, circlesMask(p, size, rest)) : NaN;
  return {
    route,
    otherRoute,
    routeRatio: route / otherRoute,
    routeCircles,
    otherCircles,
    circleRatio: routeCircles / otherCircles,
    start: concentration(heat, circleMask(p, size, "top", p.start)),
    g1Circle: concentration(heat, circleMask(p, size, "bottom", trace(p, p.start))),
    hopTarget: hops > 0 ? concentration(heat, circleMask(p, size, "top", taken[1])) : null,
  };
}
