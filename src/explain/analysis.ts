import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { imagesToTensor } from "../data/batches";
import { samplePuzzle } from "../data/sample";
import { Split } from "../data/spec";
import { CamMethod, gradCam } from "./gradcam";
import { RegionMeasures, regionMeasures } from "./regions";

/** Which class a heatmap explains: the model's answer (what it looked at) or the true one. */
export type Explained = "predicted" | "true";

export interface ExplainedSample extends RegionMeasures {
  /** Index of the puzzle in its split. */
  index: number;
  /** The true class. */
  label: number;
  /** The model's answer. */
  predicted: number;
  /** The class the heatmap explains (predicted or label, see Explained). */
  explained: number;
  /** g1, where plain tracing from START ends. */
  plain: number;
  /** The stored image, size*size*3 RGB. */
  rgb: Uint8Array;
  /** The heatmap, size*size in 0..1. */
  heat: Float32Array;
}

/** Grad-CAM settings for explainSplit. */
export interface ExplainOptions {
  /** Puzzles explained, from the start of the split (default 32). */
  n?: number;
  method?: CamMethod;
  /** Layer to explain at (default: defaultCamLayer). */
  layer?: string;
  /** Class to explain (default: predicted). */
  explain?: Explained;
}

/**
 * Grad-CAM on the first `n` puzzles of a split, with where the heat falls against the controls
 * (see regions.ts: the route taken vs a route not taken, the route's circles vs the others).
 */
export function explainSplit(
  model: tf.LayersModel,
  reader: SplitReader,
  split: Split,
  opts: ExplainOptions = {},
): { layer: string; samples: ExplainedSample[] } {
  const spec = reader.header.spec;
  const size = spec.difficulty.size;
  const n = Math.min(opts.n ?? 32, reader.count);
  const explain = opts.explain ?? "predicted";
  if (explain !== "predicted" && explain !== "true")
    throw new Error(`explain must be 'predicted' or 'true', got '${explain}'`);
  const samples: ExplainedSample[] = [];
  let layer = "";
  for (let start = 0; start < n; start += 16) {
    const idx = Array.from({ length: Math.min(16, n - start) }, (_, k) => start + k);
    const rgbs = idx.map((i) => reader.image(i));
    const x = imagesToTensor(rgbs, size, size);
    const labels = idx.map((i) => reader.records.labels[i]);
    const cam = gradCam(model, x, {
      method: opts.method,
      layer: opts.layer,
      classes: explain === "true" ? labels : undefined,
    });
    x.dispose();
    layer = cam.layer;
    idx.forEach((i, k) => {
      const s = samplePuzzle(spec, split, i);
      const heat = cam.maps[k];
      samples.push({
        index: i,
        label: labels[k],
        predicted: cam.predicted[k],
        explained: cam.classes[k],
        plain: s.plain,
        rgb: rgbs[k],
        heat,
        ...regionMeasures(s.puzzle, heat, size, spec.hops),
      });
    });
  }
  return { layer, samples };
}

/** Median and quartiles of a ratio over puzzles. */
export interface Spread {
  median: number;
  q1: number;
  q3: number;
  /** Share of puzzles where the ratio is above 1 (the map prefers the route / its circles). */
  above1: number;
  /** Puzzles where the ratio is defined. */
  n: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return {
    median: quantile(v, 0.5),
    q1: quantile(v, 0.25),
    q3: quantile(v, 0.75),
    above1: v.length ? v.filter((x) => x > 1).length / v.length : NaN,
    n: v.length,
  };
}

/** One row of the heat table: a group of explained puzzles of one run. */
export interface HeatRow {
  run: string;
  /** "all", "correct" or "wrong" (by the model's answer). */
  group: string;
  n: number;
  /** Puzzles whose map is all zero (no positive evidence at the layer): no region measure exists for them. */
  blank: number;
  /** Mean concentration on the taken route and on the control routes (see RegionMeasures). */
  route: number;
  otherRoute: number;
  /** Per-puzzle route / other-route ratio. */
  routeRatio: Spread;
  /** Per-puzzle route-circles / other-circles ratio. */
  circleRatio: Spread;
  /** Mean concentration on START, on g1's bottom circle, on the hop's top circle (warp only). */
  start: number;
  g1Circle: number;
  hopTarget: number | null;
}

const mean = (xs: number[]) => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};

/** The heat table of one run: all puzzles, then the correct and the wrong answers (groups left out when empty). */
export function heatTable(run: string, samples: ExplainedSample[]): HeatRow[] {
  const groups: Array<[string, ExplainedSample[]]> = [
    ["all", samples],
    ["correct", samples.filter((s) => s.predicted === s.label)],
    ["wrong", samples.filter((s) => s.predicted !== s.label)],
  ];
  return groups
    .filter(([, ss]) => ss.length > 0)
    .map(([group, ss]) => ({
      run,
      group,
      n: ss.length,
      blank: ss.filter((s) => s.heat.every((v) => v === 0)).length,
      route: mean(ss.map((s) => s.route)),
      otherRoute: mean(ss.map((s) => s.otherRoute)),
      routeRatio: spread(ss.map((s) => s.routeRatio)),
      circleRatio: spread(ss.map((s) => s.circleRatio)),
      start: mean(ss.map((s) => s.start)),
      g1Circle: mean(ss.map((s) => s.g1Circle)),
      hopTarget: ss[0].hopTarget === null ? null : mean(ss.map((s) => s.hopTarget as number)),
    }));
}

/** The heat table as markdown. */
export function heatTableMarkdown(rows: HeatRow[]): string {
  const f = (v: number | null) => (v === null || !Number.isFinite(v) ? "" : v.toFixed(2));
  const sp = (s: Spread) =>
    s.n ? `${f(s.median)} (${f(s.q1)}-${f(s.q3)}), ${(100 * s.above1).toFixed(0)} % > 1` : "";
  return [
    "| run | puzzles | n (blank maps) | route | route not taken | route / not taken: median (IQR), share > 1 | route circles / other circles | START | g1 circle | hop target |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.run} | ${r.group} | ${r.n}${r.blank ? ` (${r.blank} blank)` : ""} | ${f(r.route)} | ${f(r.otherRoute)} | ${sp(r.routeRatio)} | ${sp(r.circleRatio)} | ${f(r.start)} | ${f(r.g1Circle)} | ${f(r.hopTarget)} |`,
    ),
  ].join("\n");
}
