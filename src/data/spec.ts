import { Difficulty, validateDifficulty } from "../puzzle/difficulty";
import { Nuisance, NO_NUISANCE, validateNuisance } from "../puzzle/nuisance";
import { RENDER_STYLES, RenderStyle } from "../puzzle/layout";
import { debiasedProblem } from "../puzzle/ladders";
import * as path from "path";
import { fieldKnob, Knob } from "../util/knobs";


export const TASKS = ["plain", "warp"] as const;
export type Task = (typeof TASKS)[number];
export const SPLITS = ["train", "val", "test"] as const;
export type Split = (typeof SPLITS)[number];

/**
 * How puzzles are drawn (docs/SAMPLING.md). `debiased`: the ladder's permutation is uniform and
 * the label independent of START and both colour orders, so a rung-blind rule scores chance.
 * `blog`: the seed's sampling (uniform rung count, rungs dropped at random slots), kept for
 * comparison; a rung-blind rule beats chance on it.
 */
export const SAMPLINGS = ["debiased", "blog"] as const;
export type Sampling = (typeof SAMPLINGS)[number];
export const DEFAULT_SAMPLING: Sampling = "debiased";

/** Everything that decides a data set's pixels and labels; recorded in every file header. */
export interface DatasetSpec {
  task: Task;
  /** Warp hops: 0 for plain, >= 1 for warp. */
  hops: number;
  difficulty: Difficulty;
  nuisance: Nuisance;
  seed: number;
  /** How structures and labels are drawn; see `SAMPLINGS`. */
  sampling: Sampling;
  /**
   * The renderer's style; absent means standard. Only `test-heldout.amida`'s header says
   * `heldout`: it is never a training option (data/heldout.ts).
   */
  style?: RenderStyle;
}

export function validateSpec(s: DatasetSpec): DatasetSpec {
  if (!TASKS.includes(s.task)) throw new Error(`unknown task '${s.task}'; allowed: ${TASKS.join(", ")}`);
  if (!Number.isInteger(s.hops) || s.hops < 0 || s.hops > 16) throw new Error(`hops must be an integer in 0..16, got ${s.hops}`);
  if (s.task === "plain" && s.hops !== 0) throw new Error(`task 'plain' means hops = 0, got hops = ${s.hops}; use --task warp for hops >= 1`);
  if (s.task === "warp" && s.hops === 0) throw new Error("task 'warp' needs hops >= 1 (hops = 0 is the plain task)");
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 2 ** 31) throw new Error(`seed must be an integer in 0..2^31, got ${s.seed}`);
  if (!SAMPLINGS.includes(s.sampling)) throw new Error(`unknown sampling '${s.sampling}'; allowed: ${SAMPLINGS.join(", ")}`);
  if (s.style !== undefined && !Object.prototype.hasOwnProperty.call(RENDER_STYLES, s.style)) {
    throw new Error(`unknown style '${s.style}'; allowed: ${Object.keys(RENDER_STYLES).join(", ")}`);
  }
  validateDifficulty(s.difficulty);
  validateNuisance(s.nuisance ?? NO_NUISANCE);
  if (s.sampling === "debiased") {
    const why = debiasedProblem(s.difficulty, s.hops);
    if (why) throw new Error(why);
  }
  return s;
}

export function isSplit(x: string): x is Split {
  return (SPLITS as readonly string[]).includes(x);
}

/** The held-out rendering style's test file in every data set directory (data/heldout.ts writes it). */
export const HELDOUT_TEST_NAME = "test-heldout.amida";

/** The spec recorded in the held-out file's header: same puzzles, held-out style, no varied style. */
export function heldoutSpec(spec: DatasetSpec): DatasetSpec {
  const { vary: _vary, ...nuisance } = spec.nuisance;
  return { ...spec, nuisance, style: "heldout" };
}

/** The spec a file of a data set must carry: the data set's, or for the held-out test file its held-out variant. */
export function fileSpec(fileName: string, spec: DatasetSpec): DatasetSpec {
  return fileName === HELDOUT_TEST_NAME ? heldoutSpec(spec) : spec;
}

export type SplitCounts = Record<Split, number>;

export function splitFile(dir: string, split: Split): string {
  return path.join(dir, `${split}.amida`);
}

/** `what` names the data set in the message (e.g. "plain" for an experiment's plain data set). */
export function validateCounts(c: SplitCounts, what = ""): SplitCounts {
  for (const s of SPLITS) {
    const v = c[s];
    const lo = s === "train" ? 1 : 0;
    if (!Number.isInteger(v) || v < lo || v > 10_000_000) throw new Error(`${what ? `${what} ` : ""}${s} count must be an integer in ${lo}..10000000, got ${v}`);
  }
  return c;
}

/** Val and test default to a tenth of train each (at least one puzzle when train allows). */
export function defaultCounts(train: number): SplitCounts {
  const side = Math.max(1, Math.round(train / 10));
  return { train, val: side, test: side };
}


/** The knobs every mode that makes data sets shares: `sampling` and `dataSeed` (top-level fields). */
export function dataKnobs<C>(): Knob<C>[] {
  return [
    fieldKnob<C>("sampling", "string", ["sampling"], `${SAMPLINGS.join(" | ")}: debiased = rung-blind rules score chance`, {
      choices: () => SAMPLINGS,
    }),
    fieldKnob<C>("dataSeed", "int", ["dataSeed"], "seeds the data sets", { min: 0, max: 2 ** 31 }),
  ];
}
