/**
 * What notebook 01 shows about a data set, computed here so its cells stay one call each: the two
 * samplings side by side (splits, what a rung-blind rule can exploit, baselines), the held-out
 * style beside the standard one, and jittered rungs staying in their rows.
 */
import * as path from "path";
import { Row } from "../report/table";
import { Canvas } from "canvas";
import { DatasetSpec, Sampling, SAMPLINGS, SPLITS } from "../data/spec";
import { generateDataset } from "../data/generate";
import { splitFile, SplitCounts } from "../data/spec";
import { heldoutTestFile } from "../data/heldout";
import { samplePuzzle } from "../data/sample";
import { SplitReader } from "../data/format";
import { rungBlindBaselines } from "../data/baselines";
import { capacityWarning, difficultyCapacity } from "../data/stats";
import { Difficulty } from "../puzzle/difficulty";
import { Puzzle } from "../puzzle/puzzle";
import { trace } from "../puzzle/trace";
import { layout, rungShiftLimit } from "../puzzle/layout";
import { renderRGB } from "../puzzle/render";
import { rngFor } from "../util/rng";
import { imageGrid } from "./figures";

export interface SamplingComparison {
  /** The data set directory of each sampling. */
  dirs: Record<Sampling, string>;
  /** Per sampling and split: puzzles, distinct puzzles and distinct ladders (no ladder is in two splits). */
  splits: Row[];
  /** Per sampling, on the test split: how often the label is what a rung-blind cue points at. */
  cues: Row[];
  /** Per sampling: accuracies of the rung-blind rules on the test split. */
  baselines: Row[];
  /** What the difficulty can hold (exact counts), and the warning when training asks for more. */
  capacity: string;
  /** Per sampling, split and label: how many puzzles (the classes are balanced by construction). */
  histograms: Array<{ sampling: Sampling; split: string; label: number; count: number }>;
}

/** Generates `spec` under both samplings (OUT/blog, OUT/debiased) and compares them. */
export function compareSamplings(
  spec: Omit<DatasetSpec, "sampling">,
  counts: SplitCounts,
  out: string,
  log: (l: string) => void = () => {},
): SamplingComparison {
  const dirs = {} as Record<Sampling, string>;
  const splits: Row[] = [];
  const cues: Row[] = [];
  const baselines: Row[] = [];
  const histograms: SamplingComparison["histograms"] = [];
  for (const sampling of SAMPLINGS) {
    const s: DatasetSpec = { ...spec, sampling };
    const dir = path.join(out, sampling);
    dirs[sampling] = dir;
    const sum = generateDataset(s, counts, dir, { quiet: true, onLine: log });
    for (const split of SPLITS) {
      const st = sum.splits[split];
      if (!st) continue;
      splits.push({
        sampling,
        split,
        puzzles: st.count,
        distinct_puzzles: st.distinct_puzzles,
        distinct_ladders: st.distinct_ladders,
      });
      st.class_histogram.forEach((count, label) =>
        histograms.push({ sampling, split, label, count }),
      );
    }
    if (counts.test > 0) {
      cues.push({ sampling, ...labelCues(s, counts.test) });
      const b = rungBlindBaselines(dir, "test");
      baselines.push({
        sampling,
        count: b.count,
        chance: b.chance,
        plain_rule: b.plain_rule,
        start_rule: b.start_rule,
        rung_blind_bayes: b.rung_blind_bayes,
      });
    }
  }
  const cap = difficultyCapacity(spec.difficulty);
  const warning = capacityWarning({ ...spec, sampling: "debiased" }, counts);
  const capacity =
    `${cap.layouts} rung layouts, ${cap.ladders} ladders, ${cap.puzzles} puzzles (${cap.exact ? "exact" : "estimated"})` +
    (warning ? `\n\n${warning}` : "");
  return { dirs, splits, cues, baselines, capacity, histograms };
}

/**
 * Fractions of the first `count` test puzzles whose label is START's own lane, the hop-back lane
 * (the bottom lane whose colour is missing from the top row), g1; and of identity ladders.
 */
function labelCues(spec: DatasetSpec, count: number): Row {
  let start = 0;
  let back = 0;
  let g1 = 0;
  let identity = 0;
  for (let i = 0; i < count; i++) {
    const { puzzle: p, label, plain } = samplePuzzle(spec, "test", i);
    if (label === p.start) start++;
    if (label === p.bottom.indexOf(p.top[p.start])) back++;
    if (label === plain) g1++;
    if (Array.from({ length: p.lanes }, (_, l) => trace(p, l)).every((b, l) => b === l)) identity++;
  }
  return {
    "label = START lane": start / count,
    "label = hop-back lane": back / count,
    "label = g1": g1 / count,
    "identity ladder": identity / count,
  };
}

/** The first `n` test puzzles of `dir`: standard style above, the held-out style below. */
export function styleComparison(dir: string, n: number, scale = 4): Canvas {
  const std = new SplitReader(splitFile(dir, "test"));
  const held = new SplitReader(heldoutTestFile(dir));
  try {
    const k = Math.min(n, std.count);
    const idx = Array.from({ length: k }, (_, i) => i);
    const images = [...idx.map((i) => std.image(i)), ...idx.map((i) => held.image(i))];
    const captions = [
      ...idx.map((i) => `standard, label ${std.records.labels[i]}`),
      ...idx.map((i) => `held-out, label ${held.records.labels[i]}`),
    ];
    return imageGrid(images, std.header.image.height, captions, { cols: k, scale });
  } finally {
    std.close();
    held.close();
  }
}

/**
 * One ladder whose rungs sit in neighbouring rows and share a lane (the left one is met first),
 * drawn `n` times with the largest jitter: the left rung stays above the right one in every
 * drawing. Returns the grid and the figures that guarantee it.
 */
export function jitterDemo(
  d: Difficulty,
  n: number,
  scale = 4,
): { grid: Canvas; rowGap: number; shiftLimit: number } {
  const p: Puzzle = {
    lanes: 3,
    rows: d.rows,
    rungs: [
      { row: 1, left: 0 },
      { row: 2, left: 1 },
    ],
    top: [0, 1, 2],
    bottom: [2, 0, 1],
    start: 0,
  };
  const L = layout(p, d.size);
  const images = Array.from({ length: n }, (_, k) =>
    renderRGB(p, d.size, { jitter: 4, tint: 0, noise: 0 }, rngFor("jitter-demo", k)),
  );
  return {
    grid: imageGrid(
      images,
      d.size,
      images.map((_, k) => `jitter 4, #${k}`),
      { cols: n, scale },
    ),
    rowGap: L.rowGap,
    shiftLimit: rungShiftLimit(L, L.lineWidth),
  };
}
