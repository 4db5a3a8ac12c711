import * as tf from "@tensorflow/tfjs";
import { SplitReader } from "../data/format";
import { imagesToTensor } from "../data/batches";
import { samplePuzzle } from "../data/sample";
import { warpLanes } from "../puzzle/trace";
import { CamMethod, gradCam } from "./gradcam";
import { circleMask, concentration, routeMask } from "./regions";

export interface ExplainedSample {
  index: number;
  label: number;
  predicted: number;
  plain: number;
  rgb: Uint8Array;
  heat: Float32Array;
  /** Heat concentration (see regions.ts) on: the traced route(s), START, the bottom circle g1 reached by
   * plain tracing, and the top circle the hop jumps to (warp only). */
  route: number;
  start: number;
  g1Circle: number;
  hopTarget: number | null;
}

/**
 * Grad-CAM on the first `n` puzzles of a split (explaining the true label), with how much of the
 * heat falls on the parts of the picture the rule says matter.
 */
export function explainSplit(model: tf.LayersModel, reader: SplitReader, split: "train" | "val" | "test", opts: { n?: number; method?: CamMethod; layer?: string } = {}): ExplainedSample[] {
  const spec = reader.header.spec;
  const size = spec.difficulty.size;
  const n = Math.min(opts.n ?? 32, reader.count);
  const out: ExplainedSample[] = [];
  for (let start = 0; start < n; start += 16) {
    const idx = Array.from({ length: Math.min(16, n - start) }, (_, k) => start + k);
    const rgbs = idx.map((i) => reader.image(i));
    const x = imagesToTensor(rgbs, size, size);
    const labels = idx.map((i) => reader.records.labels[i]);
    const cam = gradCam(model, x, { method: opts.method, layer: opts.layer, classes: labels });
    x.dispose();
    idx.forEach((i, k) => {
      const s = samplePuzzle(spec, split, i);
      const heat = cam.maps[k];
      const lanes = warpLanes(s.puzzle, spec.hops);
      out.push({
        index: i,
        label: labels[k],
        predicted: cam.predicted[k],
        plain: s.plain,
        rgb: rgbs[k],
        heat,
        route: concentration(heat, routeMask(s.puzzle, size, spec.hops)),
        start: concentration(heat, circleMask(s.puzzle, size, "top", s.puzzle.start)),
        g1Circle: concentration(heat, circleMask(s.puzzle, size, "bottom", s.plain)),
        hopTarget: spec.hops > 0 ? concentration(heat, circleMask(s.puzzle, size, "top", lanes[1])) : null,
      });
    });
  }
  return out;
}

/** Mean concentrations over samples, split by correct / wrong predictions. */
export function summarize(samples: ExplainedSample[]): Array<{ group: string; n: number; route: number; start: number; g1Circle: number; hopTarget: number | null }> {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return [
    ["correct", samples.filter((s) => s.predicted === s.label)],
    ["wrong", samples.filter((s) => s.predicted !== s.label)],
  ].map(([group, ss]) => {
    const list = ss as ExplainedSample[];
    return {
      group: group as string,
      n: list.length,
      route: mean(list.map((s) => s.route)),
      start: mean(list.map((s) => s.start)),
      g1Circle: mean(list.map((s) => s.g1Circle)),
      hopTarget: list.length && list[0].hopTarget !== null ? mean(list.map((s) => s.hopTarget!)) : null,
    };
  });
}
