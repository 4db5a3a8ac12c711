/**
 * The puzzles the page draws and the pixels the models see, shared by the page and the Node side
 * (which computes the reference numbers the page checks itself against). Browser-safe imports only.
 */
import { samplePuzzle } from "../data/sample";
import { DatasetSpec, Task } from "../data/spec";
import { Puzzle } from "../puzzle/puzzle";
import { renderRGB } from "../puzzle/render";
import { RENDER_STYLES } from "../puzzle/layout";
import { rngFor } from "../util/rng";

/** Where a drawn puzzle comes from: the generator's test split, with this task, seed and index. */
export interface Draw {
  task: Task;
  hops: number;
  seed: number;
  index: number;
}

/** The spec a draw uses: the model's data set's (difficulty, sampling, nuisance), with the draw's task and seed. */
export function drawSpec(base: DatasetSpec, d: Draw): DatasetSpec {
  return { ...base, task: d.task, hops: d.task === "plain" ? 0 : d.hops, seed: d.seed };
}

/**
 * Puzzle `index` of the test split: with the data set's own seed and task it is that data set's
 * test puzzle `index`; with any seed its ladder hashes into the test split, so no model of the
 * data set trained on it.
 */
export function drawnPuzzle(base: DatasetSpec, d: Draw): Puzzle {
  return samplePuzzle(drawSpec(base, d), "test", d.index).puzzle;
}

/**
 * The model's input for a puzzle, as the data set's files store it (data/sample.ts renderSample):
 * the spec's nuisance drawn from the stream of the draw's pixels, in the spec's style. An edited
 * puzzle keeps the stream of the puzzle it was edited from.
 */
export function puzzlePixels(p: Puzzle, base: DatasetSpec, d: Draw): Uint8Array {
  const spec = drawSpec(base, d);
  return renderRGB(
    p,
    spec.difficulty.size,
    spec.nuisance,
    rngFor(spec.seed, "test", d.index, "pixels"),
    RENDER_STYLES[spec.style ?? "standard"],
  );
}
